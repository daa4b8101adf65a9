"""Who may call what in procurement: ``Annotated`` aliases for the roles the endpoints admit (admin always passes)."""

from typing import Annotated

from fastapi import Depends

from service_kit.auth import Principal, Role, require_roles

# Officials of the district's social affairs office (区社会办) run procurement.
Official = Annotated[Principal, Depends(require_roles(Role.official))]
# Those who may read a contract: officials, third-party evaluators, and the contracted provider's admin
# (whose access to a particular contract is checked against its provider).
ContractReader = Annotated[Principal, Depends(require_roles(Role.official, Role.evaluator, Role.provider_admin))]
# The parties who sign a contract: officials for the district, the contracted provider's admin for the provider
# (checked against the contract's provider).
ContractParty = Annotated[Principal, Depends(require_roles(Role.official, Role.provider_admin))]
# Expert reviewers (评审专家) score the applications of the calls they are assigned to.
Reviewer = Annotated[Principal, Depends(require_roles(Role.reviewer))]
# A provider's admin applies to calls on its behalf.
ProviderAdmin = Annotated[Principal, Depends(require_roles(Role.provider_admin))]
