"""Cross-cutting helpers every area uses: audit trail, tenancy lookups, phone numbers, the CPU pool."""
