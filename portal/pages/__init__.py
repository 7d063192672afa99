"""The pages of the portal, one module per area of the site."""
