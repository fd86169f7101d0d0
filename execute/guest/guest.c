/*
 * casual's JavaScript guest: QuickJS compiled for wasm32-wasi, serving one
 * handler run per request line. The host (package execute) keeps the
 * instance warm and talks to it over stdin/stdout:
 *
 *   stdin:  {"source": "...", "input": .., "state": .., "event": ..,
 *            "mem_limit": bytes, "max_output": bytes,
 *            "max_log_lines": n, "max_log_bytes": bytes}\n
 *   stdout: {"ok": true, "result": {"output": .., "state": ..},
 *            "logs": [..], "logs_dropped": n, "mem_peak": bytes}\n
 *       or  {"ok": false, "kind": "exception|invalid|timeout|memory|stack|output",
 *            "error": {"name": .., "message": .., "stack": ..},
 *            "logs": [..], "logs_dropped": n, "mem_peak": bytes}\n
 *
 * At start the guest prints {"ready":true} once. Every run gets a fresh
 * JSContext, built before its request arrives; the JSRuntime is kept and
 * garbage-collected between runs, so nothing one handler leaves behind is
 * reachable by the next (the host also retires an instance after a limit
 * is broken, or after many runs).
 *
 * The source is an ES module whose default export is a function receiving
 * ctx = {input, state, event} and returning (or resolving to) {output?,
 * state?}. Modules cannot be imported; there is no std/os module, no
 * require, no fetch; console.* is captured into logs, capped.
 *
 * Limits: the QuickJS heap is capped at mem_limit (a memory bomb is a clean
 * "out of memory"); the JS stack at STACK_LIMIT (deep recursion is "stack
 * overflow"); the interrupt handler polls the host import
 * casual.should_stop, which the host raises at the deadline (including
 * inside regexp backtracking, see quickjs-wasi.patch).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutils.h"
#include "quickjs.h"

__attribute__((import_module("casual"), import_name("should_stop")))
extern int32_t casual_should_stop(void);

/* The linker gives a 1 MiB stack (-z stack-size); keep headroom for the C
 * frames below the interpreter and for building the response. */
#define STACK_LIMIT (768 * 1024)
#define MALLOC_OVERHEAD 8
#define MAX_LOG_LINE 2048

static JSRuntime *rt;
static JSContext *ctx;
static JSValue runner = JS_UNDEFINED; /* bootstrap's run(fn, ctx, done) */

/* Per-run state, reset by prepare(). */
static size_t heap_peak;
static int heap_refused; /* an allocation was refused by the limit */
static const char *handler_src;
static size_t handler_len;
static JSValue logs = JS_UNDEFINED;
static int log_lines, log_dropped, max_log_lines;
static size_t log_bytes, max_log_bytes;
static int settled; /* 0 pending, 1 fulfilled, 2 rejected */
static JSValue settled_value = JS_UNDEFINED;

/* ---- heap accounting: QuickJS's default allocator plus a peak ---- */

static void note_size(JSMallocState *s) {
    if (s->malloc_size > heap_peak)
        heap_peak = s->malloc_size;
}

static void *g_malloc(JSMallocState *s, size_t size) {
    void *p;
    if (s->malloc_size + size > s->malloc_limit) {
        heap_refused = 1;
        return NULL;
    }
    p = malloc(size);
    if (!p) {
        heap_refused = 1;
        return NULL;
    }
    s->malloc_count++;
    s->malloc_size += malloc_usable_size(p) + MALLOC_OVERHEAD;
    note_size(s);
    return p;
}

static void g_free(JSMallocState *s, void *ptr) {
    if (!ptr)
        return;
    s->malloc_count--;
    s->malloc_size -= malloc_usable_size(ptr) + MALLOC_OVERHEAD;
    free(ptr);
}

static void *g_realloc(JSMallocState *s, void *ptr, size_t size) {
    size_t old;
    if (!ptr)
        return size ? g_malloc(s, size) : NULL;
    old = malloc_usable_size(ptr);
    if (size == 0) {
        s->malloc_count--;
        s->malloc_size -= old + MALLOC_OVERHEAD;
        free(ptr);
        return NULL;
    }
    if (s->malloc_size + size - old > s->malloc_limit) {
        heap_refused = 1;
        return NULL;
    }
    ptr = realloc(ptr, size);
    if (!ptr) {
        heap_refused = 1;
        return NULL;
    }
    s->malloc_size += malloc_usable_size(ptr) - old;
    note_size(s);
    return ptr;
}

static size_t g_usable(const void *ptr) { return malloc_usable_size((void *)ptr); }

static const JSMallocFunctions malloc_fns = {g_malloc, g_free, g_realloc, g_usable};

static int interrupt(JSRuntime *r, void *opaque) {
    (void)r;
    (void)opaque;
    return casual_should_stop() != 0;
}

/* ---- modules: only the handler itself can be loaded ---- */

static JSModuleDef *load_module(JSContext *c, const char *name, void *opaque) {
    JSValue m;
    (void)opaque;
    if (strcmp(name, "handler") != 0 || !handler_src) {
        JS_ThrowReferenceError(c, "cannot import '%s': handlers run without modules "
                                  "(no filesystem, network or std/os)", name);
        return NULL;
    }
    m = JS_Eval(c, handler_src, handler_len, "handler",
                JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(m))
        return NULL;
    JS_FreeValue(c, m);
    return JS_VALUE_GET_PTR(m);
}

/* ---- console: captured, capped ---- */

static void put_arg(DynBuf *b, JSContext *c, JSValueConst v) {
    JSValue str = JS_UNDEFINED;
    const char *s;
    size_t len, room;
    if (!JS_IsString(v) && JS_IsObject(v) && !JS_IsFunction(c, v) && !JS_IsError(c, v)) {
        str = JS_JSONStringify(c, v, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsException(str)) {
            JS_FreeValue(c, JS_GetException(c));
            str = JS_UNDEFINED;
        }
    }
    s = JS_ToCStringLen(c, &len, JS_IsString(str) ? (JSValueConst)str : v);
    JS_FreeValue(c, str);
    if (!s) {
        JS_FreeValue(c, JS_GetException(c));
        dbuf_putstr(b, "[unprintable]");
        return;
    }
    room = b->size < MAX_LOG_LINE ? MAX_LOG_LINE - b->size : 0;
    dbuf_put(b, (const uint8_t *)s, len < room ? len : room);
    JS_FreeCString(c, s);
}

static JSValue js_console(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv,
                          int level) {
    static const char *prefix[] = {"", "[info] ", "[warn] ", "[error] ", "[debug] "};
    DynBuf b;
    int i;
    (void)this_val;
    if (log_lines >= max_log_lines || log_bytes >= max_log_bytes) {
        log_dropped++;
        return JS_UNDEFINED;
    }
    dbuf_init(&b);
    dbuf_putstr(&b, prefix[level]);
    for (i = 0; i < argc && b.size < MAX_LOG_LINE; i++) {
        if (i > 0)
            dbuf_putc(&b, ' ');
        put_arg(&b, c, argv[i]);
    }
    if (b.size > max_log_bytes - log_bytes)
        b.size = max_log_bytes - log_bytes;
    JS_SetPropertyUint32(c, logs, log_lines, JS_NewStringLen(c, (const char *)b.buf, b.size));
    log_lines++;
    log_bytes += b.size;
    dbuf_free(&b);
    return JS_UNDEFINED;
}

static JSValue js_settle(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    if (settled || argc < 2)
        return JS_UNDEFINED;
    settled = JS_ToBool(c, argv[0]) ? 1 : 2;
    settled_value = JS_DupValue(c, argv[1]);
    return JS_UNDEFINED;
}

/* Captured before any handler code runs, so a handler that replaces
 * Promise or Reflect only confuses itself. */
static const char bootstrap[] =
    "(function () {\n"
    "  const P = Promise, resolve = Promise.resolve, then = Promise.prototype.then,\n"
    "        apply = Reflect.apply, stringify = JSON.stringify, keys = Object.keys,\n"
    "        isObj = v => v !== null && typeof v === 'object' && !Array.isArray(v);\n"
    "  /* A handler may return {state} or change ctx.state in place: then the\n"
    "     keys it changed (deleted ones as null) are the patch. */\n"
    "  function mutated(ctx, snap) {\n"
    "    const s = ctx.state, patch = {};\n"
    "    let n = 0;\n"
    "    if (!isObj(s)) return undefined;\n"
    "    for (const k of keys(s)) if (stringify(s[k]) !== snap[k]) { patch[k] = s[k]; n++; }\n"
    "    for (const k of keys(snap)) if (!(k in s)) { patch[k] = null; n++; }\n"
    "    return n ? patch : undefined;\n"
    "  }\n"
    "  return function run(fn, ctx, settle) {\n"
    "    const snap = {};\n"
    "    if (isObj(ctx.state)) for (const k of keys(ctx.state)) snap[k] = stringify(ctx.state[k]);\n"
    "    const done = v => {\n"
    "      if ((v === undefined || v === null || (isObj(v) && v.state === undefined))) {\n"
    "        const p = mutated(ctx, snap);\n"
    "        if (p !== undefined) v = v == null ? { state: p } : { output: v.output, state: p };\n"
    "      }\n"
    "      settle(true, v);\n"
    "    };\n"
    "    let r;\n"
    "    try { r = fn(ctx); } catch (e) { settle(false, e); return; }\n"
    "    apply(then, apply(resolve, P, [r]), [done, e => settle(false, e)]);\n"
    "  };\n"
    "})()";

static const char entry[] = "import h from 'handler';\nglobalThis.__casual_handler = h;\n";

/* prepare builds the runtime and context for the next run. */
static int prepare(void) {
    static const char *names[] = {"log", "info", "warn", "error", "debug"};
    JSValue console, global;
    int i;
    if (!rt) {
        rt = JS_NewRuntime2(&malloc_fns, NULL);
        if (!rt)
            return -1;
        JS_SetMaxStackSize(rt, STACK_LIMIT);
        JS_SetInterruptHandler(rt, interrupt, NULL);
        JS_SetModuleLoaderFunc(rt, NULL, load_module, NULL);
    }
    JS_SetMemoryLimit(rt, (size_t)-1);
    ctx = JS_NewContext(rt);
    if (!ctx)
        return -1;
    global = JS_GetGlobalObject(ctx);
    console = JS_NewObject(ctx);
    for (i = 0; i < 5; i++)
        JS_SetPropertyStr(ctx, console, names[i],
                          JS_NewCFunctionMagic(ctx, js_console, names[i], 1, JS_CFUNC_generic_magic, i));
    JS_SetPropertyStr(ctx, global, "console", console);
    JS_FreeValue(ctx, global);
    runner = JS_Eval(ctx, bootstrap, sizeof(bootstrap) - 1, "<bootstrap>", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(runner))
        return -1;
    logs = JS_NewArray(ctx);
    log_lines = log_dropped = 0;
    log_bytes = 0;
    settled = 0;
    settled_value = JS_UNDEFINED;
    heap_refused = 0;
    handler_src = NULL;
    return 0;
}

static void release(void) {
    JS_FreeValue(ctx, runner);
    JS_FreeValue(ctx, logs);
    JS_FreeValue(ctx, settled_value);
    runner = logs = settled_value = JS_UNDEFINED;
    JS_FreeContext(ctx);
    JS_RunGC(rt); /* collect the run's cycles: nothing of it survives */
    ctx = NULL;
}

/* ---- responses ---- */

static void put_json(DynBuf *b, JSValueConst v) {
    JSValue s = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
    const char *p;
    size_t len;
    if (JS_IsException(s) || !JS_IsString(s)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        JS_FreeValue(ctx, s);
        dbuf_putstr(b, "null");
        return;
    }
    p = JS_ToCStringLen(ctx, &len, s);
    if (p) {
        dbuf_put(b, (const uint8_t *)p, len);
        JS_FreeCString(ctx, p);
    } else {
        JS_FreeValue(ctx, JS_GetException(ctx));
        dbuf_putstr(b, "null");
    }
    JS_FreeValue(ctx, s);
}

static void put_string(DynBuf *b, const char *s) {
    JSValue v = JS_NewString(ctx, s);
    put_json(b, v);
    JS_FreeValue(ctx, v);
}

static void finish(DynBuf *b) {
    char tail[96];
    dbuf_putstr(b, ",\"logs\":");
    put_json(b, logs);
    snprintf(tail, sizeof(tail), ",\"logs_dropped\":%d,\"mem_peak\":%zu}\n", log_dropped, heap_peak);
    dbuf_putstr(b, tail);
    fwrite(b->buf, 1, b->size, stdout);
    fflush(stdout);
    dbuf_free(b);
}

static void respond_error(const char *kind, const char *name, const char *message, const char *stack) {
    DynBuf b;
    JS_SetMemoryLimit(rt, (size_t)-1); /* room to report, within the host's cap */
    dbuf_init(&b);
    dbuf_putstr(&b, "{\"ok\":false,\"kind\":");
    put_string(&b, kind);
    dbuf_putstr(&b, ",\"error\":{\"name\":");
    put_string(&b, name);
    dbuf_putstr(&b, ",\"message\":");
    put_string(&b, message);
    if (stack) {
        dbuf_putstr(&b, ",\"stack\":");
        put_string(&b, stack);
    }
    dbuf_putstr(&b, "}");
    finish(&b);
}

static char *prop_string(JSValueConst obj, const char *prop) {
    JSValue v = JS_GetPropertyStr(ctx, obj, prop);
    const char *s;
    char *out = NULL;
    if (JS_IsException(v)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return NULL;
    }
    if (!JS_IsUndefined(v) && (s = JS_ToCString(ctx, v))) {
        out = strdup(s);
        JS_FreeCString(ctx, s);
    }
    JS_FreeValue(ctx, JS_GetException(ctx));
    JS_FreeValue(ctx, v);
    return out;
}

/* respond_exception reports a thrown value; phase_kind is the kind for an
 * ordinary exception ("invalid" while loading, "exception" when running). */
static void respond_exception(JSValue exc, const char *phase_kind) {
    const char *kind = phase_kind;
    char *name = NULL, *message = NULL, *stack = NULL;
    JS_SetMemoryLimit(rt, (size_t)-1);
    if (JS_IsError(ctx, exc)) {
        name = prop_string(exc, "name");
        message = prop_string(exc, "message");
        stack = prop_string(exc, "stack");
    } else {
        const char *s = JS_ToCString(ctx, exc);
        message = strdup(s ? s : "non-printable value");
        if (s)
            JS_FreeCString(ctx, s);
        JS_FreeValue(ctx, JS_GetException(ctx));
    }
    if (name && strcmp(name, "SyntaxError") == 0)
        kind = "invalid";
    if (message && strcmp(message, "stack overflow") == 0)
        kind = "stack"; /* also a SyntaxError when parsing nests too deep */
    if (name && message && strcmp(name, "InternalError") == 0) {
        if (strcmp(message, "interrupted") == 0)
            kind = "timeout";
        else if (strcmp(message, "out of memory") == 0)
            kind = "memory";
    }
    if (heap_refused && strcmp(kind, "timeout") != 0) {
        kind = "memory";
        if (!name) { /* the engine could not even allocate the error */
            free(message);
            message = strdup("out of memory");
        }
    }
    respond_error(kind, name ? name : "Error", message ? message : "", stack);
    free(name);
    free(message);
    free(stack);
    JS_FreeValue(ctx, exc);
}

static void respond_result(JSValueConst r, size_t max_output) {
    JSValue out = JS_NewObject(ctx), v;
    DynBuf body;
    const char *s;
    size_t len;
    char msg[160];
    if (!JS_IsUndefined(r) && !JS_IsNull(r)) {
        if (!JS_IsObject(r) || JS_IsArray(ctx, r) || JS_IsFunction(ctx, r)) {
            JS_FreeValue(ctx, out);
            respond_error("invalid", "TypeError",
                          "a handler returns {output?, state?} or nothing", NULL);
            return;
        }
        v = JS_GetPropertyStr(ctx, r, "output");
        if (JS_IsException(v)) {
            JS_FreeValue(ctx, out);
            respond_exception(JS_GetException(ctx), "exception");
            return;
        }
        JS_SetPropertyStr(ctx, out, "output", v);
        v = JS_GetPropertyStr(ctx, r, "state");
        if (JS_IsException(v)) {
            JS_FreeValue(ctx, out);
            respond_exception(JS_GetException(ctx), "exception");
            return;
        }
        if (!JS_IsUndefined(v) && !JS_IsNull(v) &&
            (!JS_IsObject(v) || JS_IsArray(ctx, v) || JS_IsFunction(ctx, v))) {
            JS_FreeValue(ctx, v);
            JS_FreeValue(ctx, out);
            respond_error("invalid", "TypeError",
                          "state must be an object: a patch of the app state", NULL);
            return;
        }
        JS_SetPropertyStr(ctx, out, "state", v);
    }
    v = JS_JSONStringify(ctx, out, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, out);
    if (JS_IsException(v)) {
        respond_exception(JS_GetException(ctx), "invalid");
        return;
    }
    s = JS_ToCStringLen(ctx, &len, v);
    JS_FreeValue(ctx, v);
    if (!s) {
        respond_exception(JS_GetException(ctx), "exception");
        return;
    }
    if (len > max_output) {
        JS_FreeCString(ctx, s);
        snprintf(msg, sizeof(msg), "result is %zu bytes, over the output limit of %zu bytes", len, max_output);
        respond_error("output", "RangeError", msg, NULL);
        return;
    }
    dbuf_init(&body);
    dbuf_putstr(&body, "{\"ok\":true,\"result\":");
    dbuf_put(&body, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    finish(&body);
}

static int64_t get_int(JSValueConst obj, const char *prop, int64_t def) {
    JSValue v = JS_GetPropertyStr(ctx, obj, prop);
    int64_t n = def;
    if (JS_IsNumber(v))
        JS_ToInt64(ctx, &n, v);
    JS_FreeValue(ctx, v);
    return n > 0 ? n : def;
}

/* load evaluates the handler module and returns its default export. */
static JSValue load(void) {
    JSValue m, global, fn;
    m = JS_Eval(ctx, entry, sizeof(entry) - 1, "<entry>", JS_EVAL_TYPE_MODULE);
    if (JS_IsException(m))
        return m;
    JS_FreeValue(ctx, m);
    global = JS_GetGlobalObject(ctx);
    fn = JS_GetPropertyStr(ctx, global, "__casual_handler");
    {
        JSAtom a = JS_NewAtom(ctx, "__casual_handler");
        JS_DeleteProperty(ctx, global, a, 0);
        JS_FreeAtom(ctx, a);
    }
    JS_FreeValue(ctx, global);
    return fn;
}

static void serve(const char *line, size_t len) {
    JSValue req, fn, arg, r, exc;
    JSContext *job_ctx;
    const char *src;
    size_t max_output;
    int err;

    req = JS_ParseJSON(ctx, line, len, "<request>");
    if (JS_IsException(req) || !JS_IsObject(req)) {
        respond_error("invalid", "ProtocolError", "request is not a JSON object", NULL);
        JS_FreeValue(ctx, req);
        return;
    }
    JS_SetMemoryLimit(rt, (size_t)get_int(req, "mem_limit", 64 << 20));
    max_output = (size_t)get_int(req, "max_output", 1 << 20);
    max_log_lines = (int)get_int(req, "max_log_lines", 100);
    max_log_bytes = (size_t)get_int(req, "max_log_bytes", 64 << 10);

    r = JS_GetPropertyStr(ctx, req, "source");
    src = JS_IsString(r) ? JS_ToCStringLen(ctx, &handler_len, r) : NULL;
    JS_FreeValue(ctx, r);
    if (!src) {
        JS_FreeValue(ctx, req);
        respond_error("invalid", "ProtocolError", "request has no source", NULL);
        return;
    }
    handler_src = src;
    fn = load();
    handler_src = NULL;
    JS_FreeCString(ctx, src);
    if (JS_IsException(fn)) {
        JS_FreeValue(ctx, req);
        respond_exception(JS_GetException(ctx), "invalid");
        return;
    }
    if (!JS_IsFunction(ctx, fn)) {
        JS_FreeValue(ctx, fn);
        JS_FreeValue(ctx, req);
        respond_error("invalid", "TypeError", "the module's default export must be a function", NULL);
        return;
    }

    arg = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, arg, "input", JS_GetPropertyStr(ctx, req, "input"));
    JS_SetPropertyStr(ctx, arg, "state", JS_GetPropertyStr(ctx, req, "state"));
    JS_SetPropertyStr(ctx, arg, "event", JS_GetPropertyStr(ctx, req, "event"));
    JS_FreeValue(ctx, req);
    {
        JSValueConst argv[3];
        JSValue settle = JS_NewCFunction(ctx, js_settle, "settle", 2);
        argv[0] = fn;
        argv[1] = arg;
        argv[2] = settle;
        r = JS_Call(ctx, runner, JS_UNDEFINED, 3, argv);
        JS_FreeValue(ctx, settle);
    }
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, arg);
    if (JS_IsException(r)) {
        respond_exception(JS_GetException(ctx), "exception");
        return;
    }
    JS_FreeValue(ctx, r);
    for (;;) {
        err = JS_ExecutePendingJob(rt, &job_ctx);
        if (err <= 0)
            break;
    }
    if (err < 0) {
        respond_exception(JS_GetException(ctx), "exception");
        return;
    }
    switch (settled) {
    case 1:
        respond_result(settled_value, max_output);
        break;
    case 2:
        exc = settled_value;
        settled_value = JS_UNDEFINED;
        respond_exception(exc, "exception");
        break;
    default:
        respond_error("exception", "Error", "the handler's promise never settled", NULL);
    }
}

int main(void) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (prepare() < 0) {
        fputs("{\"ready\":false}\n", stdout);
        return 1;
    }
    fputs("{\"ready\":true}\n", stdout);
    fflush(stdout);
    while ((n = getline(&line, &cap, stdin)) > 0) {
        heap_peak = 0;
        serve(line, (size_t)n);
        release();
        if (prepare() < 0)
            return 1;
        if (cap > (1 << 20)) { /* don't keep a huge request's buffer */
            free(line);
            line = NULL;
            cap = 0;
        }
    }
    free(line);
    return 0;
}
