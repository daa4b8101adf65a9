from registry.models import Base, load_models
from service_kit.migrations import run_env

load_models()
run_env(Base.metadata)
