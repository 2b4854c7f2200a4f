"""Sign-up, sign-in, sign-out, password reset and the workspace switcher."""

from .views import bp

__all__ = ["bp"]
