"""The rules of the portal, one module per noun: plain async functions, no HTTP, no HTML."""
