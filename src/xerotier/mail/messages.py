"""The text of every email the product sends. Plain text: nothing to render, nothing to track."""

from __future__ import annotations

from xerotier.mail.outbox import Mail

SIGNATURE = "\n\n— Xerotier\nIf you did not expect this email, you can ignore it."


def verify_email(to: str, link: str) -> Mail:
    return Mail(
        to,
        "Verify your email address",
        f"Confirm this address to finish setting up your Xerotier account:\n\n{link}\n\n"
        f"The link works once and expires in 24 hours.{SIGNATURE}",
    )


def already_registered(to: str, login_link: str, reset_link: str) -> Mail:
    return Mail(
        to,
        "Someone tried to register with your email",
        "Someone (perhaps you) tried to create a Xerotier account with this address, which "
        f"already has one.\n\nSign in: {login_link}\nForgot your password? {reset_link}{SIGNATURE}",
    )


def reset_password(to: str, link: str) -> Mail:
    return Mail(
        to,
        "Reset your password",
        f"Use this link to choose a new password:\n\n{link}\n\nIt works once, expires in one "
        f"hour, and stops working as soon as you sign in or change your password.{SIGNATURE}",
    )


def password_changed(to: str) -> Mail:
    return Mail(
        to,
        "Your password was changed",
        "The password of your Xerotier account was just changed, and your other sessions were "
        "signed out. If this was not you, reset your password now and contact your "
        f"administrator.{SIGNATURE}",
    )


def _subject_safe(text: str, limit: int = 60) -> str:
    """Free text typed by users goes into subjects only printable and short."""
    clean = "".join(ch for ch in text if ch.isprintable())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def invitation(to: str, project_name: str, inviter: str, link: str) -> Mail:
    return Mail(
        to,
        f"You were invited to {_subject_safe(project_name)} on Xerotier",
        f"{inviter} invited you to the project {project_name!r}. Create an account with this "
        f"email address to join:\n\n{link}{SIGNATURE}",
    )


def added_to_project(to: str, project_name: str, inviter: str, link: str) -> Mail:
    return Mail(
        to,
        f"You were added to {_subject_safe(project_name)} on Xerotier",
        f"{inviter} added you to the project {project_name!r}:\n\n{link}{SIGNATURE}",
    )
