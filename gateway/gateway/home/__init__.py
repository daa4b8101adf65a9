"""The mobile app's home screen in one call: nearby offerings, upcoming bookings, ratings to give."""
