"""The 15-minute circle: what a resident reaches on foot (or what comes to the door), and where the gaps are."""
