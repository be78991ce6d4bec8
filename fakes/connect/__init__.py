"""A simulated Entra Connect sync server: sync, password writeback agent, event log."""
