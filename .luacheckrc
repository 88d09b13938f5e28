-- luacheck configuration for troupe: run `luacheck .` from the repository root.
std = "lua54"
max_line_length = 100

exclude_files = {
  "build*/**",
  ".git/**",
}

-- busted specs: describe/it/assert/spy/stub/mock/... are globals there.
files["spec/"] = { std = "+busted" }
