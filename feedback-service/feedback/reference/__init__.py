"""What feedback knows of other services' facts, to refuse complaints and needs about things that do not exist:
the registry's taxonomy, gazetteer, service centers, verified providers and offerings, and the bookings each
resident had. Local projections, kept from events only."""
