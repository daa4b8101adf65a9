from booking.models import Base
from service_kit.migrations import run_env

run_env(Base.metadata)
