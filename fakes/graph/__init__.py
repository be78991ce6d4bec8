"""A fake Microsoft Graph / Entra tenant with self-service password reset."""
