"""The README's curl session as a test: its commands, run in order, must
print what its comments say they print.

The rule, also stated where the block starts in README.md: in the shell
block after the `<!-- readme-session` marker, a comment line starting with
`# {`, `# [` or `# ` and a digit, right after a command (or after another
such line), is that command's expected output, one comment a printed line;
`…` in it stands for any text. Other comments are prose; they must be
separated from a command by a blank line (a prose comment right after a
command, or an output comment anywhere else, makes the block invalid).
Lines ending in a backslash continue a command. Blank printed lines are
ignored.

Every line a command prints must be matched by its comment, in order, and
every expected comment by a printed line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = "<!-- readme-session"
EXPECTED_OUTPUT = re.compile(r"^# [\[{0-9]")
ANY_TEXT = "…"
# Printed before each command, so that its output can be told apart.
SEPARATOR = "@@readme-session-command"


@dataclass
class Command:
    text: str
    line: int  # in the block, from 1
    expected: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        first = self.text.splitlines()[0]
        return f"line {self.line} `{first[:80]}{'…' if len(first) > 80 else ''}`"


def session_block(readme: str) -> str:
    """The shell block that follows the marker."""
    after = readme.split(MARKER, 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def parse(block: str) -> list[Command]:
    commands: list[Command] = []
    continued: list[str] = []
    # The command whose output comments may follow, until a blank line.
    last: Command | None = None
    for number, line in enumerate(block.splitlines(), 1):
        stripped = line.strip()
        if continued:
            continued.append(line)
            if not line.endswith("\\"):
                commands[-1].text = "\n".join(continued)
                continued = []
            continue
        if not stripped:
            last = None
        elif stripped.startswith("#"):
            output = EXPECTED_OUTPUT.match(stripped) is not None
            if last is not None and output:
                last.expected.append(stripped[2:])
            elif last is not None:
                raise ValueError(
                    f"README session line {number}: a comment right after a command must be its output "
                    f"(# {{, # [ or # and a digit); leave a blank line before prose: {line!r}"
                )
            elif output:
                raise ValueError(f"README session line {number}: an output comment that follows no command: {line!r}")
        else:
            last = Command(line, number)
            commands.append(last)
            if line.endswith("\\"):
                continued = [line]
    if continued:
        raise ValueError("README session: the block ends inside a continued command")
    return commands


def script(commands: list[Command]) -> str:
    """The block's commands, each preceded by a separator line on stdout."""
    parts = []
    for index, command in enumerate(commands):
        parts.append(f"printf '\\n{SEPARATOR} %d\\n' {index}")
        parts.append(command.text)
    return "\n".join(parts) + "\n"


def split_output(stdout: str, count: int) -> tuple[list[list[str]], int | None]:
    """Each command's printed lines, and the last command that started."""
    outputs: list[list[str]] = [[] for _ in range(count)]
    current: int | None = None
    for line in stdout.splitlines():
        separator = re.fullmatch(rf"{SEPARATOR} (\d+)", line)
        if separator:
            current = int(separator[1])
        elif current is not None:
            outputs[current].append(line)
        elif line.strip():
            raise ValueError(f"README session: output before the first command: {line!r}")
    return outputs, current


def matches(expected: str, printed: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split(ANY_TEXT))
    return re.fullmatch(pattern, printed, flags=re.DOTALL) is not None


def compare(commands: list[Command], outputs: list[list[str]]) -> list[str]:
    """Every printed line its comment does not match, and every expected
    line nothing matched."""
    problems = []
    for command, output in zip(commands, outputs, strict=True):
        printed = [line for line in output if line.strip()]
        for index in range(max(len(command.expected), len(printed))):
            expected = command.expected[index] if index < len(command.expected) else None
            got = printed[index] if index < len(printed) else None
            if expected is None:
                problems.append(f"{command.summary} printed {got!r}, which no output comment documents")
            elif got is None:
                problems.append(f"{command.summary} should print {expected!r}, and printed nothing more")
            elif not matches(expected, got):
                problems.append(f"{command.summary} should print {expected!r}, and printed {got!r}")
    return problems
