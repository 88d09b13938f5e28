/*
 * fuzz_json.c -- libFuzzer target for the JSON writer's loader: the Lua
 * code that reads data.json (lua/actor/jsondata.lua, which
 * lua/actor/jsonwriter.lua calls at start) run on arbitrary bytes, through
 * Debian's lua-cjson.
 *
 * Lua is embedded: luaL_newstate, the standard libraries, package.path set
 * to the source tree's lua/?.lua and lua/?/init.lua (TROUPE_FUZZ_LUA_DIR,
 * a compile definition, is its lua/), cjson found through the default
 * cpath. Each input goes to jsondata.parse (with a tick function, as the
 * writer passes its heartbeat), which must never raise: it returns the
 * data or a reason. When it returns data, the file must have been what
 * the format says -- JSON text (no NUL byte, which cjson would take for
 * the end) whose top level is an object of key -> array of byte values,
 * its keys valid UTF-8 -- and the data exactly that: checked against a
 * second cjson.decode of the text, key by key and byte by byte. Each key
 * and value accepted then goes through the writer's encoder
 * (jsondata.entry), whose text must decode to them again.
 *
 * Lua and cjson are not instrumented, so libFuzzer cannot see their
 * branches; a line hook turns the Lua lines run (as pairs: an edge
 * between two lines) into libFuzzer's extra counters, which guides it
 * through jsondata.lua; at exit it prints how many of that file's lines
 * ran. fuzz/fuzz_json.dict gives it JSON's tokens.
 *
 * Run by scripts/fuzz; seeds in fuzz/corpus/fuzz_json/.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TROUPE_FUZZ_LUA_DIR
#error "TROUPE_FUZZ_LUA_DIR: the source tree's lua/ (fuzz/CMakeLists.txt)"
#endif
#define LUA_PATH TROUPE_FUZZ_LUA_DIR "/?.lua;" TROUPE_FUZZ_LUA_DIR "/?/init.lua"

/* The check, in Lua: returns the function run on each input. */
static const char harness[] =
    "local cjson = require 'cjson'\n"
    "local parse = require('actor.jsondata').parse\n"
    "local entry = require('actor.jsondata').entry\n"
    "local ticks = 0\n"
    "local function tick() ticks = ticks + 1 end -- as the writer's beat\n"
    "return function(text)\n"
    "  local ok, data, n, exps = pcall(parse, text, tick)\n"
    "  if not ok then error('jsondata.parse raised: ' .. tostring(data), 0) "
    "end\n"
    "  if data == nil then\n"
    "    assert(type(n) == 'string' and #n > 0, 'refused without a reason')\n"
    "    return\n"
    "  end\n"
    "  assert(type(data) == 'table' and math.type(n) == 'integer',\n"
    "         'accepted, but returned no data table and count')\n"
    "  assert(not text:find('\\0', 1, true), 'accepted a NUL byte')\n"
    "  assert(text:match('^[ \\t\\r\\n]*{'), 'accepted a top level that is "
    "not an object')\n"
    "  local obj = cjson.decode(text)\n"
    "  assert(type(obj) == 'table', 'accepted something that is not an "
    "object')\n"
    "  local keys = 0\n"
    "  for k, v in pairs(obj) do\n"
    "    keys = keys + 1\n"
    "    assert(type(k) == 'string', 'accepted a key that is not a string')\n"
    "    assert(utf8.len(k), 'accepted a key that is not valid UTF-8')\n"
    "    local s = data[k]\n"
    "    assert(type(s) == 'string', 'the value of a key was lost')\n"
    "    assert(type(v) == 'table', 'accepted a value that is not an array')\n"
    "    if v.value ~= nil then -- {\"value\":[...],\"expires\":ms}\n"
    "      local at = math.tointeger(v.expires)\n"
    "      assert(at and at >= 0, 'accepted an expiry that is not a time')\n"
    "      assert(exps[k] == (at > 0 and at or nil), 'an expiry was lost')\n"
    "      v = v.value\n"
    "      assert(type(v) == 'table', 'accepted a value that is not an "
    "array')\n"
    "    else\n"
    "      assert(exps[k] == nil, 'an expiry appeared from nowhere')\n"
    "    end\n"
    "    local items = 0\n"
    "    for _ in pairs(v) do items = items + 1 end\n"
    "    assert(items == #v, 'accepted a value that is not an array: ' ..\n"
    "           string.format('%q', k))\n"
    "    assert(#s == #v, 'a value lost or gained bytes')\n"
    "    for i = 1, #v do\n"
    "      assert(v[i] == s:byte(i), 'a byte changed')\n"
    "    end\n"
    "    assert(utf8.len(entry(k, s)), 'the encoder wrote invalid UTF-8')\n"
    "    local back = cjson.decode('{' .. entry(k, s) .. '}')\n"
    "    assert(back[k] and #back[k] == #s, 'the encoder lost the key or "
    "bytes')\n"
    "    for i = 1, #s do\n"
    "      assert(back[k][i] == s:byte(i), 'the encoder changed a byte')\n"
    "    end\n"
    "  end\n"
    "  assert(keys == n, 'the count is not the number of keys')\n"
    "  for k in pairs(data) do\n"
    "    assert(obj[k] ~= nil, 'a key appeared from nowhere')\n"
    "  end\n"
    "end\n";

static lua_State *L;
static int check_ref;

/* ------------------------------------- Lua lines as libFuzzer features */

#define NCOUNTERS 4096
__attribute__((section("__libfuzzer_extra_counters"),
               used)) static uint8_t counters[NCOUNTERS];
static uintptr_t prev_line;

/* The lines of jsondata.lua that can run, and those that ran: printed at
 * exit ("Lua lines run"), libFuzzer's cov: seeing only C. */
#define MAXLINES 1024
static const char *module_source; /* its chunk's source string */
static uint8_t module_lines[MAXLINES], module_ran[MAXLINES];

static void line_hook(lua_State *l, lua_Debug *ar) {
  uintptr_t here;
  uint8_t *c;
  if (!lua_getinfo(l, "S", ar))
    return;
  if (ar->source == module_source && ar->currentline > 0 &&
      ar->currentline < MAXLINES)
    module_ran[ar->currentline] = 1;
  /* A chunk's source string stays put while the chunk lives. */
  here = (uintptr_t)ar->source * 31u ^ (uintptr_t)ar->currentline * 2654435761u;
  c = &counters[(here ^ prev_line) % NCOUNTERS];
  if (*c < 255)
    (*c)++;
  prev_line = here >> 1;
}

/* Marks the lines that can run of the Lua function on top of the stack
 * and of the functions among its upvalues, if from jsondata.lua; pops it.
 * (The module's local functions are reached that way from parse.) */
static void mark_lines(int depth) {
  lua_Debug ar;
  int i;
  if (depth > 8 || !lua_isfunction(L, -1) || lua_iscfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  for (i = 1; lua_getupvalue(L, -1, i); i++)
    mark_lines(depth + 1);
  lua_getinfo(L, ">SL", &ar); /* pops the function, pushes its lines */
  if (strstr(ar.source, "jsondata.lua")) {
    module_source = ar.source;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_Integer line = lua_tointeger(L, -2);
      if (line > 0 && line < MAXLINES)
        module_lines[line] = 1;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

static void report(void) {
  int i, can = 0, ran = 0;
  char missed[200] = "";
  for (i = 0; i < MAXLINES; i++) {
    can += module_lines[i], ran += module_lines[i] && module_ran[i];
    if (module_lines[i] && !module_ran[i] && strlen(missed) + 8 < sizeof missed)
      snprintf(missed + strlen(missed), sizeof missed - strlen(missed), " %d",
               i);
  }
  fprintf(stderr, "fuzz_json: Lua lines run: %d of %d in jsondata.lua%s%s\n",
          ran, can, missed[0] ? "; not run:" : "", missed);
}

/* ----------------------------------------------------------- set up */

static int traceback(lua_State *l) {
  luaL_traceback(l, l, lua_tostring(l, 1), 1);
  return 1;
}

_Noreturn static void die(const char *what) {
  fprintf(stderr, "fuzz_json: %s: %s\n", what, lua_tostring(L, -1));
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (!(L = luaL_newstate())) {
    fprintf(stderr, "fuzz_json: cannot make a Lua state\n");
    abort();
  }
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, LUA_PATH);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_pushcfunction(L, traceback);
  if (luaL_loadbuffer(L, harness, sizeof harness - 1, "=fuzz_json") ||
      lua_pcall(L, 0, 1, -2))
    die("cannot load the check (is lua-cjson installed?)");
  check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "actor.jsondata");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "parse");
  mark_lines(0);
  lua_pop(L, 1);
  if (!module_source) {
    fprintf(stderr, "fuzz_json: jsondata.parse is not from jsondata.lua\n");
    abort();
  }
  atexit(report);
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  prev_line = 0;
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, -3))
    die("check failed");
  lua_settop(L, 0);
  /* What this input made is garbage now: free it, so that libFuzzer's
   * leak check sees as many frees as mallocs. */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
