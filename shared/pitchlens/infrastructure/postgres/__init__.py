"""PostgreSQL adapters: the schema (`tables`) and its migrations (`migrate`), the unit of work and
repositories (`unit_of_work`, `repositories`), the engine (`engine`), and the embedded server the
local stack runs (`embedded`, which needs the `local` extra)."""
