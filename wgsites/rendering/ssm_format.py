"""What the program and the aws gateway's own programs (its bootstrap and sync agent) agree on through SSM.

One definition: the program imports these, and gateway_programs.py renders the same values into the
bootstrap and the agent, which run on the gateway alone and import nothing of wgsites.
"""

from __future__ import annotations

CHUNK_CHARS = 4000  # a Standard-tier String parameter holds 4 KB: a bundle's or a status's chunk
# The most chunks any stack's bundle can have, so the most the VM reads whatever a manifest says: the role
# reads each chunk by its own ARN, and a role's inline policies hold at most 10,240 characters together;
# the shortest chunk ARN entry (`"arn:aws:ssm:us-east-1:123456789012:parameter/wgsites/s/i/bundle/0000", `:
# a one-letter stack and interface, a 9-letter region) takes 72 of them. So 142 chunks, 568,000 characters,
# at most 16 SSM calls a period. wgsites/rendering/limits.py refuses a stack whose bundle passes it.
IAM_INLINE_POLICY_CHARS = 10240
SHORTEST_CHUNK_ARN_ENTRY = 72
MAX_BUNDLE_CHUNKS = IAM_INLINE_POLICY_CHARS // SHORTEST_CHUNK_ARN_ENTRY
BUNDLE_FORMAT = 1
MANIFEST_FORMAT = 2  # 2: the signature covers every field (1 signed the hash alone, so a replay verified)
SIGNED_PREFIX = "wgsites-bundle-manifest\n"  # what the stack's key signs starts with this: it signs nothing else alike
STATUS_FORMAT = 1  # the status document the agent publishes and `status` reads
HEARTBEAT_SECONDS = 300  # the agent republishes an unchanged view at least this often
