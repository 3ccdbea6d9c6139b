-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 4: reserved for the interop work (correlation headers, metadata
-- dialects), which replaces this file; migrations are numbered without gaps (migrate.c).
SELECT 1;
