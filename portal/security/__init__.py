"""Security: headers, CSRF, and later passwords, passkeys and sessions."""
