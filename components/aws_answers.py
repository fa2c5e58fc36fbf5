"""What an AWS lookup answered, told apart: "not found" from everything else (credentials, permissions, throttling).

A failed invoke reaches the program as an exception whose text is the provider's: terraform-provider-aws's
singular data sources say `no matching EC2 VPC found` when nothing matched (internal/tfresource/errors.go,
SingularDataSourceFindError) and `reading EC2 VPC: <the SDK's error>` otherwise, where the SDK's error ends in
`api error CODE: MESSAGE` (smithy-go errors.go, GenericAPIError). Only the first may read as "there is no such
thing"; anything else is passed on with its code and message, so an expired token is never mistaken for a
missing VPC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pulumi

T = TypeVar("T")

# the data sources' "nothing matched" (tfresource.SingularDataSourceFindError; aws_ami's older "Your query returned
# no results"), and EC2's own codes for an id that does not exist (InvalidSubnetID.NotFound, InvalidAMIID.NotFound)
NOT_FOUND = re.compile(r"\bno matching [\w ]+ found\b|\bYour query returned no results\b|\b[A-Za-z]+\.NotFound\b")
API_ERROR = re.compile(r"api error ([A-Za-z][\w.]*): ([^\n]*)")
MESSAGE_CHARS = 300  # an answer is shown, not dumped


@dataclass(frozen=True)
class AwsAnswer:
    not_found: bool
    code: str | None  # the AWS error code (UnauthorizedOperation, ExpiredToken, ...) when the text names one
    message: str  # one printable line

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


def printable(text: str) -> str:
    """One line: control characters shown escaped, never passed to a terminal; bounded."""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text.strip())
    return shown if len(shown) <= MESSAGE_CHARS else shown[: MESSAGE_CHARS - 3] + "..."


def aws_answer(error: BaseException) -> AwsAnswer:
    text = str(error)
    if NOT_FOUND.search(text):
        return AwsAnswer(True, None, printable(text))
    found = API_ERROR.search(text)
    if found:
        return AwsAnswer(False, found.group(1), printable(found.group(2)))
    return AwsAnswer(False, None, printable(" ".join(text.split()) or type(error).__name__))


def ask_aws(lookup: Callable[[], T], refused: str, missing: str) -> T:
    """LOOKUP's answer, or the run stopped before anything exists: MISSING when AWS found nothing, else REFUSED
    followed by what AWS answered (an expired token must never read as a missing VPC)."""
    try:
        return lookup()
    except Exception as error:
        answer = aws_answer(error)
        if answer.not_found:
            raise pulumi.RunError(missing) from None
        raise pulumi.RunError(f"{refused}: {answer}; fix the credentials or the permission and run again") from None
