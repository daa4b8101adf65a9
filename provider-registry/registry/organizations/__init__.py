"""Provider organizations: application, verification, suspension, standing (scores, government contracts)."""
