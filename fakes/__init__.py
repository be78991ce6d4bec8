"""The three fakes (AD domain controller, Microsoft Graph/Entra tenant, Entra Connect)
and the small pieces they share (clock, event logs, operation log, TLS material)."""
