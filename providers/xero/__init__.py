"""Xero: its client (`client`), error table (`errors`), pacing (`pacing`), pure mappers (`mappers`), the contacts
reader (`contacts`) and settings (`XERO_...`, `settings`), each imported from its module.

This file imports nothing: an import's reading process (`bot.imports.reading`) imports `providers.xero.contacts`
alone, and a package that brought in its client brought the HTTP, OAuth and settings stack with it (0.25 s and
23 MiB of the process's start, while an import's first pages waited for it)."""
