"""The service catalog: offerings a provider publishes, with price, capacity and weekly schedule."""
