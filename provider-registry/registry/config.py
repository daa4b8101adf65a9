from typing import ClassVar

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "registry"
