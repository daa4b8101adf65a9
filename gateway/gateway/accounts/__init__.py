"""Staff accounts: who may sign in at the gateway, with which roles."""
