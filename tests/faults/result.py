"""What one fault scenario measured, and the line the terminal summary prints for it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """What one scenario measured; `problems` is empty when every check passed."""

    broker: str
    name: str
    acked: int = 0
    posts: int = 0
    lost: int = 0
    duplicated_effects: int = 0
    server_errors: int = 0
    unavailable: int = 0
    dropped: int = 0
    commands: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"faults({self.broker}) {self.name}: {self.acked} events acked "
            f"({self.posts} deliveries), {self.lost} lost, {self.duplicated_effects} "
            f"duplicated effects, {self.server_errors} 500s; retried {self.unavailable} 503s "
            f"and {self.dropped} dropped connections; {self.commands} commands"
        )
