"""Failed sign-ins per target, in the gateway's database so every replica agrees: staff accounts' lockouts and
residents' daily code budgets per phone (the policy: service.py)."""
