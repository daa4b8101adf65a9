"""Who may call what in procurement: ``Annotated`` aliases for the roles the endpoints admit (admin always passes)."""

from typing import Annotated

from fastapi import Depends

from service_kit.auth import Principal, Role, require_roles

# Officials of the district's social affairs office (区社会办) run procurement.
Official = Annotated[Principal, Depends(require_roles(Role.official))]
# Those who may read a contract: officials, third-party evaluators, and the contracted provider's admin
# (whose access to a particular contract is checked against its provider).
ContractReader = Annotated[Principal, Depends(require_roles(Role.official, Role.evaluator, Role.provider_admin))]
