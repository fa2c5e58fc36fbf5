"""The hub as a small EC2 VM: Elastic IP, WireGuard's UDP port open and nothing else.

The VM's user data (from the core) holds no peer and no key: the config and the
key live in SSM parameters that a sync timer on the VM applies with `wg
syncconf`. So a peer change updates a parameter and never the instance (no
replacement, no reboot), and a deploy needs only AWS credentials, no SSH.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

import pulumi
import pulumi_aws as aws
from pulumi_command import local

from wgsites.rendering.bundle import GatewayParameters, chunks, digest, parse_serial
from wgsites.rendering.status_slots import PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST
from wgsites.stack.model import AwsOptions, Hub

from .aws_answers import ask_aws

CANONICAL = "099720109477"
UBUNTU_NOBLE = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*"


def architecture(instance_type: str) -> str:
    """Graviton (arm64) types have a `g` right after the generation: t4g, c7g, m7gd, c6gn; a1 is Graviton too."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if re.match(r"^(a1|[a-z]+\d+g)", family) else "amd64"


# The bundle's serial: the time when it is first made, then on each change of the bundle (its hash is in the
# command's environment, so a change is an update and no other run touches it) the time again, or one more
# than the last serial (the engine hands the last stdout over as PULUMI_COMMAND_STDOUT) when the clock says
# less: it only grows, across operators and clocks, and stays as it is while the bundle does (a preview or
# an `up` without a change shows no diff).
SERIAL_CREATE = "date +%s"
SERIAL_UPDATE = 'now=$(date +%s); last=${PULUMI_COMMAND_STDOUT:-0}; [ "$now" -gt "$last" ] && echo "$now" || echo $((last + 1))'


EC2_ARCHITECTURE = {"arm64": "arm64", "amd64": "x86_64"}  # Ubuntu's names -> EC2's (an image's `architecture`)


def check_gateway_image(options: AwsOptions, region: str) -> None:
    """A pinned hub.aws.ami must exist and run on the instance type, asked of AWS before any resource exists."""
    if options.ami is None:
        return
    where = f"wgsites:vpn.hub.aws.ami ({region})"
    image = ask_aws(
        lambda: aws.ec2.get_ami(filters=[aws.ec2.GetAmiFilterArgs(name="image-id", values=[options.ami])]),
        refused=f"{where}: AWS refused to describe '{options.ami}' (ec2:DescribeImages)",
        missing=f"{where}: '{options.ami}' is not an image this account can see in {region}; check the id and the "
        "region (an image's id differs in each region)",
    )
    arch = architecture(options.instance_type)
    needed = EC2_ARCHITECTURE[arch]
    if image.architecture != needed:
        raise pulumi.RunError(
            f"{where}: '{options.ami}' is an image for {image.architecture}, and hub.aws.instanceType "
            f"'{options.instance_type}' needs one for {needed}; pin an image for {needed} (Ubuntu 24.04: "
            f"{UBUNTU_NOBLE.format(arch=arch)}) or choose an instance type of its architecture"
        )


def read_parameters_policy(arns: list[str]) -> str:
    """Read exactly these parameters; the aws/ssm key's own policy lets SSM decrypt for the account."""
    statement = {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": sorted(arns)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def publish_status_policy(manifest_arn: str) -> str:
    """Overwrite the gateway's own status: its manifest, and the chunks under it (wgsites/operations/gateway_status.py).

    The chunks by a wildcard under the manifest's own path, not one ARN each: a role's inline policies
    hold at most 10,240 characters together, which 89 chunk ARNs (1,000 peers) and the read policy's 39
    reach (about 10,200); the path reaches no bundle or key parameter."""
    statement = {"Effect": "Allow", "Action": ["ssm:PutParameter"], "Resource": [manifest_arn, f"{manifest_arn}/*"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


@dataclass(frozen=True)
class GatewaySubnet:
    """The subnet the user named (hub.aws.subnetId) and its VPC; None stands for the default VPC's."""

    subnet_id: str
    vpc_id: str
    assigns_ipv6: bool = False  # the subnet gives every new instance an IPv6 address (assign_ipv6_address_on_creation)


def gateway_subnet(options: AwsOptions, region: str, ipv6: bool = False) -> GatewaySubnet | None:
    """Ask AWS where the gateway can go, before any resource exists; a clear error when it cannot.

    Without subnetId, EC2 puts the instance and its security group in the region's default VPC,
    which many organisation-managed accounts have deleted.
    """
    where = f"wgsites:vpn.hub.aws.subnetId ({region})"
    if options.subnet_id is None:
        ask_aws(
            lambda: aws.ec2.get_vpc(default=True),
            refused=f"wgsites:vpn.hub.aws ({region}): AWS refused to say whether the region has a default VPC (ec2:DescribeVpcs)",
            missing=f"wgsites:vpn.hub.aws: region {region} has no default VPC for the gateway; name a public subnet "
            "(its route table sends 0.0.0.0/0 to an internet gateway) in the stack file as "
            "hub.aws.subnetId: subnet-..., and optionally hub.aws.vpcId to check it is in the VPC you meant",
        )
        return None
    subnet = ask_aws(
        lambda: aws.ec2.get_subnet(id=options.subnet_id),
        refused=f"{where}: AWS refused to describe '{options.subnet_id}' (ec2:DescribeSubnets)",
        missing=f"{where}: '{options.subnet_id}' is not a subnet this account can see in {region}; "
        "check the id and the region (pulumi config get aws:region)",
    )
    if options.vpc_id and subnet.vpc_id != options.vpc_id:
        raise pulumi.RunError(
            f"{where}: '{options.subnet_id}' is in {subnet.vpc_id}, not in hub.aws.vpcId '{options.vpc_id}'; fix one of the two"
        )
    if ipv6 and not subnet.ipv6_cidr_block:  # hub.ipv6Egress: the instance gets an address of the subnet's /64
        raise pulumi.RunError(
            f"{where}: '{options.subnet_id}' has no IPv6 CIDR block, so the gateway can get no IPv6 address for "
            "hub.ipv6Egress; make the subnet dual-stack (associate an IPv6 CIDR block with its VPC and the subnet, "
            "route ::/0 to the internet gateway), name a dual-stack subnet, or remove ipv6Egress"
        )
    return GatewaySubnet(options.subnet_id, subnet.vpc_id, bool(subnet.assign_ipv6_address_on_creation))


def ipv6_address_count(egress: bool, subnet: GatewaySubnet | None) -> int | None:
    """How many IPv6 addresses the instance asks for: 1 with hub.ipv6Egress, else 0, so turning it off removes it.

    Upstream (terraform-provider-aws >= v5.41.0, #36308) `ipv6_address_count` is Optional and Computed, no longer
    ForceNew: a changed count is assigned or unassigned on the running instance's primary interface. Leaving it
    out would show no diff at all (an Optional+Computed value missing from the config keeps the state's), so the
    address would stay. 0 makes no diff where there never was an address: Read records the interface's count,
    0. None (as before) in the default VPC (ipv6Egress needs a subnet of the user's, so it was never on there)
    and in a subnet that assigns IPv6 on creation, which gives the address whatever the count (upstream #20025):
    asking 0 there would unassign it on the next up."""
    if egress:
        return 1
    return 0 if subnet is not None and not subnet.assigns_ipv6 else None


ASSUME_ROLE_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ],
    },
    sort_keys=True,
)


@dataclass(frozen=True)
class AwsGatewayArgs:
    hub: Hub
    stack: str
    parameters: GatewayParameters  # where the bundle and the key go in SSM
    user_data: pulumi.Input[str]  # the static bootstrap, as the core renders it (with the bundle's public key)
    subnet: GatewaySubnet | None  # None: the default VPC (gateway_subnet checked there is one)
    bundle: pulumi.Input[str]  # the bundle (config, install script, agent, period), as the core renders it; no key
    chunks: int  # how many chunk parameters it takes (the core knows before the keys are known)
    # which bundle to apply, given its serial: chunks, length, hash, stack, interface, serial, the stack's signature
    manifest: Callable[[pulumi.Output[int]], pulumi.Output[str]]
    private_key: pulumi.Input[str]  # the hub's WireGuard key (secret)
    status_chunks: int  # how many chunk parameters the hub's largest status takes (status_slots.status_slots)
    # the hub's preshared keys (render_preshared_keys' text, secret) and how many SecureString chunks they take
    preshared_keys: pulumi.Input[str] | None = None
    preshared_key_chunks: int = 0


class AwsGateway(pulumi.ComponentResource):
    """Security group, IAM role and instance profile, SSM parameters, instance, Elastic IP."""

    security_group: aws.ec2.SecurityGroup
    chunk_parameters: list[aws.ssm.Parameter]
    serial: local.Command
    manifest_parameter: aws.ssm.Parameter
    key_parameter: aws.ssm.Parameter
    preshared_key_parameters: list[aws.ssm.Parameter]
    status_parameters: list[aws.ssm.Parameter]
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    status_policy: aws.iam.RolePolicy
    instance_profile: aws.iam.InstanceProfile
    instance: aws.ec2.Instance
    eip: aws.ec2.Eip
    eip_association: aws.ec2.EipAssociation
    public_ip: pulumi.Output[str]
    user_data: pulumi.Input[str]

    def __init__(self, name: str, args: AwsGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:aws_gateway:AwsGateway", name, None, opts)
        hub, ssm = args.hub, args.parameters
        child = pulumi.ResourceOptions(parent=self)
        # Descriptions and tags name the hub by its first name, which a rename with aliases keeps: a security
        # group's description is ForceNew upstream (no update API), and a status parameter's changed description
        # makes the provider put its value again (see _status)
        node = hub.first_name
        tags = {"Name": f"wgsites-{args.stack}-{node}", "wgsites:stack": args.stack, "wgsites:node": node}

        v4 = [c for c in hub.aws.admin_cidrs if ipaddress.ip_network(c).version == 4]
        v6 = [c for c in hub.aws.admin_cidrs if ipaddress.ip_network(c).version == 6]
        ingress = [
            aws.ec2.SecurityGroupIngressArgs(
                description="WireGuard",
                protocol="udp",
                from_port=hub.listen_port,
                to_port=hub.listen_port,
                cidr_blocks=["0.0.0.0/0"],
                ipv6_cidr_blocks=["::/0"],
            )
        ]
        if v4 or v6:
            ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="SSH from wgsites:vpn.hub.aws.adminCidrs",
                    protocol="tcp",
                    from_port=22,
                    to_port=22,
                    cidr_blocks=v4 or None,
                    ipv6_cidr_blocks=v6 or None,
                )
            )
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"wgsites {args.stack}: WireGuard hub {node}",
            ingress=ingress,
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"], ipv6_cidr_blocks=["::/0"]
                )
            ],
            vpc_id=args.subnet.vpc_id if args.subnet else None,
            tags=tags,
            opts=child,
        )

        # The bundle in the clear (`insecure_value`), so a preview shows its diff (`value` is always masked);
        # Standard-tier chunks (4 KB each, free), then the manifest that names them, written last: the VM
        # applies a bundle only when its chunks match the manifest's hash. delete_before_replace: a renamed
        # node's parameters keep their SSM names, which a create-before-delete would find taken.
        # cut once, each chunk then taken by its index (cutting the text for each chunk was quadratic)
        pieces = pulumi.Output.from_input(args.bundle).apply(lambda text: chunks(text, args.chunks))
        self.chunk_parameters = [
            aws.ssm.Parameter(
                f"{name}-bundle-{i:04d}",
                name=ssm.chunk(i),
                type="String",
                tier="Standard",
                insecure_value=pieces.apply(itemgetter(i)),
                description=f"wgsites {args.stack}: bundle of {node} ({hub.interface}), part {i + 1} of {args.chunks}",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for i in range(args.chunks)
        ]
        # the serial the manifest signs, so the VM can refuse an older bundle put back (SERIAL_UPDATE says how)
        self.serial = local.Command(
            f"{name}-bundle-serial",
            create=SERIAL_CREATE,
            update=SERIAL_UPDATE,
            environment={"WGSITES_BUNDLE_SHA256": pulumi.Output.from_input(args.bundle).apply(digest)},
            logging="none",
            opts=child,
        )
        self.manifest_parameter = aws.ssm.Parameter(
            f"{name}-bundle",
            name=ssm.manifest,
            type="String",
            tier="Standard",
            insecure_value=args.manifest(self.serial.stdout.apply(parse_serial)),
            description=f"wgsites {args.stack}: which bundle {node} ({hub.interface}) applies (chunks, SHA-256, serial)",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.chunk_parameters, delete_before_replace=True),
        )
        self.key_parameter = aws.ssm.Parameter(
            f"{name}-private-key",
            name=ssm.key,
            type="SecureString",
            value=pulumi.Output.secret(args.private_key),
            description=f"wgsites {args.stack}: WireGuard private key of {node} ({hub.interface})",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        # the preshared keys: SecureString chunks (4 KB each), read with decryption by the agent, which
        # applies them only when they assemble to the hash the signed bundle names
        psk = pulumi.Output.secret(args.preshared_keys) if args.preshared_keys is not None else None
        psk_pieces = psk.apply(lambda text: chunks(text, args.preshared_key_chunks)) if psk is not None else None
        self.preshared_key_parameters = [
            aws.ssm.Parameter(
                f"{name}-preshared-keys-{i:04d}",
                name=ssm.preshared_keys_chunk(i),
                type="SecureString",
                tier="Standard",
                value=psk_pieces.apply(itemgetter(i)),
                description=f"wgsites {args.stack}: preshared keys of {node} ({hub.interface}), part {i + 1} "
                f"of {args.preshared_key_chunks}",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for i in range(args.preshared_key_chunks if psk is not None else 0)
        ]

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=ASSUME_ROLE_EC2,
            description=f"wgsites {args.stack}: lets {node} read its WireGuard config and key",
            tags=tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-read-parameters",
            role=self.role.id,
            policy=pulumi.Output.all(
                self.manifest_parameter.arn,
                self.key_parameter.arn,
                *(p.arn for p in self.chunk_parameters),
                *(p.arn for p in self.preshared_key_parameters),
            ).apply(read_parameters_policy),
            opts=child,
        )
        self._status(name, args, tags)
        self.instance_profile = aws.iam.InstanceProfile(f"{name}-profile", role=self.role.name, tags=tags, opts=child)

        arch = architecture(hub.aws.instance_type)
        if hub.aws.ami is not None:  # pinned (check_gateway_image checked it): a change is a planned replacement
            ami: pulumi.Input[str] = hub.aws.ami
        else:  # the newest Ubuntu at creation, then kept (ignore_changes below)
            ami = aws.ec2.get_ami_output(
                owners=[CANONICAL],
                most_recent=True,
                filters=[
                    aws.ec2.GetAmiFilterArgs(name="name", values=[UBUNTU_NOBLE.format(arch=arch)]),
                    aws.ec2.GetAmiFilterArgs(name="virtualization-type", values=["hvm"]),
                ],
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).id
        self.user_data = args.user_data
        self.instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=ami,
            instance_type=hub.aws.instance_type,
            vpc_security_group_ids=[self.security_group.id],
            iam_instance_profile=self.instance_profile.name,
            # in a subnet the user named, a public address from launch: the bootstrap needs the internet
            # (packages, SSM) before the Elastic IP is associated, and such subnets rarely assign one
            subnet_id=args.subnet.subnet_id if args.subnet else None,
            associate_public_ip_address=True if args.subnet else None,
            # hub.ipv6Egress: an address of the dual-stack subnet (gateway_subnet checked it has IPv6), added and
            # removed in place
            ipv6_address_count=ipv6_address_count(hub.ipv6_egress, args.subnet),
            # the user data is a static bootstrap: it changes only with instance-level choices (stack, interface,
            # region), and cloud-init runs it once per instance, so a change needs a new instance to take effect
            user_data_replace_on_change=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                encrypted=True, volume_type="gp3", delete_on_termination=True, tags=tags
            ),
            tags=tags,
            user_data=self.user_data,  # plain text, so a preview shows its diff
            opts=pulumi.ResourceOptions(
                parent=self,
                # the bootstrap reads the parameters at first boot: let them and the policy exist first
                depends_on=[self.manifest_parameter, self.key_parameter, *self.preshared_key_parameters, self.role_policy],
                # Without a pinned image, a newer Ubuntu must not replace a running gateway. Any replacement (`pulumi
                # up --replace`, a new subnet or user data, an instance type of the other architecture, which
                # upstream replaces) takes the image looked up then: the engine checks a replacement's inputs afresh
                # from the program (tests/engine/test_engine_ignore_changes.py). A pinned hub.aws.ami is not
                # ignored: a new pin is a planned replacement.
                ignore_changes=[] if hub.aws.ami is not None else ["ami"],
            ),
        )

        # Allocated apart from the instance, so the address outlives an instance replacement.
        self.eip = aws.ec2.Eip(f"{name}-eip", domain="vpc", tags=tags, opts=child)
        self.eip_association = aws.ec2.EipAssociation(
            f"{name}-eip-association", allocation_id=self.eip.allocation_id, instance_id=self.instance.id, opts=child
        )
        self.public_ip = self.eip.public_ip
        self.register_outputs({"public_ip": self.public_ip, "instance_id": self.instance.id})

    def _status(self, name: str, args: AwsGatewayArgs, tags: dict[str, str]) -> None:
        """The parameters the gateway's agent publishes its view to (operations/gateway_status.py), and its right to write them.

        Pulumi owns them, so `pulumi destroy` leaves none behind; it writes a placeholder once and ignores their
        values afterwards (`ignore_changes`), so an `up` never overwrites what the agent published. The provider's
        Update puts the parameter's value again for any change but its tags (terraform-provider-aws
        internal/service/ssm/parameter.go, `HasChangesExcept("overwrite", tags, tags_all)` then PutParameter with
        the value the engine hands it: the ignored placeholder), so their descriptions are ignored too and name
        nothing that changes: not a renamed hub, not the number of parts (which grows with the peers)."""
        hub, ssm = args.hub, args.parameters
        owned = pulumi.ResourceOptions(parent=self, ignore_changes=["insecureValue", "description"], delete_before_replace=True)
        what = f"wgsites {args.stack}: status of {hub.first_name} ({hub.interface}) as its agent publishes it"
        self.status_parameters = [
            aws.ssm.Parameter(
                f"{name}-status",
                name=ssm.status,
                type="String",
                tier="Standard",
                insecure_value=PLACEHOLDER_MANIFEST,
                description=f"{what} (manifest)",
                tags=tags,
                opts=owned,
            ),
            *(
                aws.ssm.Parameter(
                    f"{name}-status-{i:04d}",
                    name=ssm.status_chunk(i),
                    type="String",
                    tier="Standard",
                    insecure_value=PLACEHOLDER_CHUNK,
                    description=f"{what} (part {i + 1})",
                    tags=tags,
                    opts=owned,
                )
                for i in range(args.status_chunks)
            ),
        ]
        self.status_policy = aws.iam.RolePolicy(
            f"{name}-publish-status",
            role=self.role.id,
            policy=self.status_parameters[0].arn.apply(publish_status_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
