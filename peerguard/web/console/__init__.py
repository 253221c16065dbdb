"""The staff console: server-rendered pages under /staff (see ``pages``), security headers and sessions."""
