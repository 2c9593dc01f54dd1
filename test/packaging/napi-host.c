/*
 * A tiny Node-API host for prebuilds that no Node on this machine can load:
 * the musl ones (Debian has no musl Node). Built against musl (x86_64 natively,
 * aarch64 under qemu-aarch64), it dlopens a prebuild with RTLD_NOW, so every
 * libc symbol must resolve against the real musl, runs the addon's
 * napi_register_module_v1 on a fake environment, calls the reader methods
 * (parseText, openReader, readValue, closeReader) as JavaScript would, then
 * tears the environment down like a Worker exit: cleanup hooks, then the
 * instance-data finalizer. Prints one JSON line; exit 0 when all is as expected.
 *
 *   napi-host ADDON.node TAINT_FILE EXPECTED_VALUE
 *
 * Only the Node-API functions the reader path uses are real; the test
 * generates a stub for every other napi_* import of the prebuild, and a
 * stub that is called is an error.
 */
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prop {
  char* name;
  napi_value value;
  struct prop* next;
};

struct napi_value__ {
  napi_valuetype type;
  int is_array;
  double num;
  char* str;
  size_t len;
  struct prop* props;
  napi_callback cb;
  void* data;
};

struct hook {
  napi_cleanup_hook fn;
  void* arg;
  int live;
};

struct napi_env__ {
  void* instance_data;
  napi_finalize instance_finalize;
  void* instance_hint;
  struct hook hooks[64];
  int nhooks;
  napi_value pending;
  napi_extended_error_info last_error;
};

struct napi_callback_info__ {
  napi_value this_arg;
  size_t argc;
  napi_value* argv;
  void* data;
};

struct napi_ref__ {
  napi_value value;
  uint32_t count;
};

static int failures = 0;
static struct napi_value__ undefined_value = {.type = napi_undefined};
static struct napi_value__ null_value = {.type = napi_null};
static struct napi_value__ true_value = {.type = napi_boolean, .num = 1};
static struct napi_value__ false_value = {.type = napi_boolean, .num = 0};

static void fail(const char* what) {
  fprintf(stderr, "napi-host: %s\n", what);
  failures++;
}

/* Called by the generated stubs. */
void kt_host_stub_called(const char* name) {
  fprintf(stderr, "napi-host: the addon called %s, which this host does not implement\n", name);
  failures++;
}

static napi_value new_value(napi_valuetype type) {
  napi_value v = calloc(1, sizeof *v);
  v->type = type;
  return v;
}

static napi_value new_string(const char* s, size_t len) {
  napi_value v = new_value(napi_string);
  if (len == NAPI_AUTO_LENGTH) len = strlen(s);
  v->str = malloc(len + 1);
  memcpy(v->str, s, len);
  v->str[len] = 0;
  v->len = len;
  return v;
}

static napi_value get_prop(napi_value obj, const char* name) {
  for (struct prop* p = obj->props; p; p = p->next)
    if (strcmp(p->name, name) == 0) return p->value;
  return NULL;
}

static void set_prop(napi_value obj, const char* name, napi_value value) {
  for (struct prop* p = obj->props; p; p = p->next) {
    if (strcmp(p->name, name) == 0) {
      p->value = value;
      return;
    }
  }
  struct prop* p = calloc(1, sizeof *p);
  p->name = strdup(name);
  p->value = value;
  p->next = obj->props;
  obj->props = p;
}

/* ---- the Node-API functions the reader path uses ------------------------ */

napi_status napi_get_undefined(napi_env env, napi_value* result) {
  (void)env;
  *result = &undefined_value;
  return napi_ok;
}

napi_status napi_get_null(napi_env env, napi_value* result) {
  (void)env;
  *result = &null_value;
  return napi_ok;
}

napi_status napi_get_boolean(napi_env env, bool value, napi_value* result) {
  (void)env;
  *result = value ? &true_value : &false_value;
  return napi_ok;
}

napi_status napi_create_object(napi_env env, napi_value* result) {
  (void)env;
  *result = new_value(napi_object);
  return napi_ok;
}

napi_status napi_create_array(napi_env env, napi_value* result) {
  (void)env;
  *result = new_value(napi_object);
  (*result)->is_array = 1;
  return napi_ok;
}

napi_status napi_is_array(napi_env env, napi_value value, bool* result) {
  (void)env;
  *result = value->is_array;
  return napi_ok;
}

napi_status napi_create_double(napi_env env, double value, napi_value* result) {
  (void)env;
  *result = new_value(napi_number);
  (*result)->num = value;
  return napi_ok;
}

napi_status napi_create_uint32(napi_env env, uint32_t value, napi_value* result) {
  return napi_create_double(env, value, result);
}

napi_status napi_create_int32(napi_env env, int32_t value, napi_value* result) {
  return napi_create_double(env, value, result);
}

napi_status napi_create_int64(napi_env env, int64_t value, napi_value* result) {
  return napi_create_double(env, (double)value, result);
}

napi_status napi_create_string_utf8(napi_env env, const char* str, size_t length, napi_value* result) {
  (void)env;
  *result = new_string(str, length);
  return napi_ok;
}

napi_status napi_typeof(napi_env env, napi_value value, napi_valuetype* result) {
  (void)env;
  *result = value->type;
  return napi_ok;
}

napi_status napi_get_value_double(napi_env env, napi_value value, double* result) {
  (void)env;
  if (value->type != napi_number) return napi_number_expected;
  *result = value->num;
  return napi_ok;
}

napi_status napi_get_value_int64(napi_env env, napi_value value, int64_t* result) {
  (void)env;
  if (value->type != napi_number) return napi_number_expected;
  *result = (int64_t)value->num;
  return napi_ok;
}

napi_status napi_get_value_uint32(napi_env env, napi_value value, uint32_t* result) {
  (void)env;
  if (value->type != napi_number) return napi_number_expected;
  *result = (uint32_t)value->num;
  return napi_ok;
}

napi_status napi_get_value_int32(napi_env env, napi_value value, int32_t* result) {
  (void)env;
  if (value->type != napi_number) return napi_number_expected;
  *result = (int32_t)value->num;
  return napi_ok;
}

napi_status napi_get_value_bool(napi_env env, napi_value value, bool* result) {
  (void)env;
  if (value->type != napi_boolean) return napi_boolean_expected;
  *result = value->num != 0;
  return napi_ok;
}

napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char* buf, size_t bufsize, size_t* result) {
  (void)env;
  if (value->type != napi_string) return napi_string_expected;
  if (buf == NULL) {
    *result = value->len;
    return napi_ok;
  }
  size_t n = bufsize == 0 ? 0 : (value->len < bufsize - 1 ? value->len : bufsize - 1);
  memcpy(buf, value->str, n);
  if (bufsize) buf[n] = 0;
  if (result) *result = n;
  return napi_ok;
}

napi_status napi_set_named_property(napi_env env, napi_value object, const char* name, napi_value value) {
  (void)env;
  set_prop(object, name, value);
  return napi_ok;
}

napi_status napi_get_named_property(napi_env env, napi_value object, const char* name, napi_value* result) {
  (void)env;
  napi_value v = get_prop(object, name);
  *result = v ? v : &undefined_value;
  return napi_ok;
}

napi_status napi_has_named_property(napi_env env, napi_value object, const char* name, bool* result) {
  (void)env;
  *result = get_prop(object, name) != NULL;
  return napi_ok;
}

napi_status napi_has_property(napi_env env, napi_value object, napi_value key, bool* result) {
  (void)env;
  if (key->type != napi_string) return napi_name_expected;
  *result = get_prop(object, key->str) != NULL;
  return napi_ok;
}

napi_status napi_get_property(napi_env env, napi_value object, napi_value key, napi_value* result) {
  (void)env;
  if (key->type != napi_string) return napi_name_expected;
  napi_value v = get_prop(object, key->str);
  *result = v ? v : &undefined_value;
  return napi_ok;
}

/* Finalizers run with the environment in Node; this host only lets them leak. */
napi_status napi_add_finalizer(napi_env env, napi_value js_object, void* finalize_data,
                               node_api_basic_finalize finalize_cb, void* finalize_hint, napi_ref* result) {
  (void)env;
  (void)js_object;
  (void)finalize_data;
  (void)finalize_cb;
  (void)finalize_hint;
  if (result) *result = NULL;
  return napi_ok;
}

napi_status napi_define_properties(napi_env env, napi_value object, size_t property_count,
                                   const napi_property_descriptor* properties) {
  (void)env;
  for (size_t i = 0; i < property_count; i++) {
    const napi_property_descriptor* d = &properties[i];
    const char* name = d->utf8name ? d->utf8name : (d->name ? d->name->str : NULL);
    if (name == NULL) return napi_name_expected;
    if (d->method) {
      napi_value fn = new_value(napi_function);
      fn->cb = d->method;
      fn->data = d->data;
      set_prop(object, name, fn);
    } else if (d->value) {
      set_prop(object, name, d->value);
    } else {
      fail("accessor properties are not supported by this host");
    }
  }
  return napi_ok;
}

/* readValue, the reader's hot path, is a plain Node-API function the addon creates itself. */
napi_status napi_create_function(napi_env env, const char* utf8name, size_t length, napi_callback cb, void* data,
                                 napi_value* result) {
  (void)env;
  (void)utf8name;
  (void)length;
  napi_value fn = new_value(napi_function);
  fn->cb = cb;
  fn->data = data;
  *result = fn;
  return napi_ok;
}

napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t* argc, napi_value* argv,
                             napi_value* this_arg, void** data) {
  (void)env;
  if (argv != NULL && argc != NULL) {
    for (size_t i = 0; i < *argc; i++) argv[i] = i < cbinfo->argc ? cbinfo->argv[i] : &undefined_value;
  }
  if (argc) *argc = cbinfo->argc;
  if (this_arg) *this_arg = cbinfo->this_arg;
  if (data) *data = cbinfo->data;
  return napi_ok;
}

napi_status napi_set_instance_data(node_api_basic_env env, void* data, napi_finalize finalize_cb,
                                   void* finalize_hint) {
  env->instance_data = data;
  env->instance_finalize = finalize_cb;
  env->instance_hint = finalize_hint;
  return napi_ok;
}

napi_status napi_get_instance_data(node_api_basic_env env, void** data) {
  *data = env->instance_data;
  return napi_ok;
}

napi_status napi_add_env_cleanup_hook(node_api_basic_env env, napi_cleanup_hook fun, void* arg) {
  if (env->nhooks == 64) return napi_generic_failure;
  env->hooks[env->nhooks++] = (struct hook){fun, arg, 1};
  return napi_ok;
}

napi_status napi_remove_env_cleanup_hook(node_api_basic_env env, napi_cleanup_hook fun, void* arg) {
  for (int i = env->nhooks - 1; i >= 0; i--) {
    if (env->hooks[i].live && env->hooks[i].fn == fun && env->hooks[i].arg == arg) {
      env->hooks[i].live = 0;
      return napi_ok;
    }
  }
  return napi_invalid_arg;
}

static napi_status make_error(napi_value code, napi_value msg, napi_value* result) {
  napi_value e = new_value(napi_object);
  set_prop(e, "message", msg);
  if (code) set_prop(e, "code", code);
  *result = e;
  return napi_ok;
}

napi_status napi_create_error(napi_env env, napi_value code, napi_value msg, napi_value* result) {
  (void)env;
  return make_error(code, msg, result);
}

napi_status napi_create_type_error(napi_env env, napi_value code, napi_value msg, napi_value* result) {
  (void)env;
  return make_error(code, msg, result);
}

napi_status napi_throw(napi_env env, napi_value error) {
  env->pending = error;
  return napi_ok;
}

napi_status napi_throw_type_error(napi_env env, const char* code, const char* msg) {
  napi_value e;
  make_error(code ? new_string(code, NAPI_AUTO_LENGTH) : NULL, new_string(msg, NAPI_AUTO_LENGTH), &e);
  return napi_throw(env, e);
}

napi_status napi_is_exception_pending(napi_env env, bool* result) {
  *result = env->pending != NULL;
  return napi_ok;
}

napi_status napi_get_and_clear_last_exception(napi_env env, napi_value* result) {
  *result = env->pending ? env->pending : &undefined_value;
  env->pending = NULL;
  return napi_ok;
}

napi_status napi_get_last_error_info(node_api_basic_env env, const napi_extended_error_info** result) {
  env->last_error.error_message = "napi-host: a Node-API call failed";
  env->last_error.error_code = napi_generic_failure;
  *result = &env->last_error;
  return napi_ok;
}

static int scope_token;

napi_status napi_open_handle_scope(napi_env env, napi_handle_scope* result) {
  (void)env;
  *result = (napi_handle_scope)&scope_token;
  return napi_ok;
}

napi_status napi_close_handle_scope(napi_env env, napi_handle_scope scope) {
  (void)env;
  (void)scope;
  return napi_ok;
}

napi_status napi_open_escapable_handle_scope(napi_env env, napi_escapable_handle_scope* result) {
  (void)env;
  *result = (napi_escapable_handle_scope)&scope_token;
  return napi_ok;
}

napi_status napi_close_escapable_handle_scope(napi_env env, napi_escapable_handle_scope scope) {
  (void)env;
  (void)scope;
  return napi_ok;
}

napi_status napi_escape_handle(napi_env env, napi_escapable_handle_scope scope, napi_value escapee,
                               napi_value* result) {
  (void)env;
  (void)scope;
  *result = escapee;
  return napi_ok;
}

napi_status napi_create_reference(napi_env env, napi_value value, uint32_t initial_refcount, napi_ref* result) {
  (void)env;
  napi_ref r = calloc(1, sizeof *r);
  r->value = value;
  r->count = initial_refcount;
  *result = r;
  return napi_ok;
}

napi_status napi_delete_reference(node_api_basic_env env, napi_ref ref) {
  (void)env;
  free(ref);
  return napi_ok;
}

napi_status napi_get_reference_value(napi_env env, napi_ref ref, napi_value* result) {
  (void)env;
  *result = ref->value;
  return napi_ok;
}

NAPI_NO_RETURN void napi_fatal_error(const char* location, size_t location_len, const char* message,
                                     size_t message_len) {
  fprintf(stderr, "napi-host: fatal error from the addon: %.*s: %.*s\n", (int)location_len, location,
          (int)message_len, message);
  abort();
}

/* ---- driving the addon like JavaScript would ---------------------------- */

static napi_value call(napi_env env, napi_value exports, const char* method, napi_value arg) {
  napi_value fn = get_prop(exports, method);
  if (fn == NULL || fn->type != napi_function) {
    fprintf(stderr, "napi-host: exports.%s is not a function\n", method);
    failures++;
    return &undefined_value;
  }
  napi_value argv[1] = {arg};
  struct napi_callback_info__ info = {exports, 1, argv, fn->data};
  napi_value r = fn->cb(env, &info);
  if (env->pending) {
    napi_value msg = get_prop(env->pending, "message");
    fprintf(stderr, "napi-host: %s threw: %s\n", method, msg && msg->str ? msg->str : "?");
    env->pending = NULL;
    failures++;
  }
  return r ? r : &undefined_value;
}

static double number_of(napi_value v, const char* what) {
  if (v->type != napi_number) {
    fprintf(stderr, "napi-host: %s is not a number (type %d)\n", what, (int)v->type);
    failures++;
    return -1;
  }
  return v->num;
}

static void teardown(napi_env env) {
  for (int i = env->nhooks - 1; i >= 0; i--) {
    if (env->hooks[i].live) {
      env->hooks[i].live = 0;
      env->hooks[i].fn(env->hooks[i].arg);
    }
  }
  if (env->instance_finalize) env->instance_finalize(env, env->instance_data, env->instance_hint);
  env->instance_data = NULL;
  env->instance_finalize = NULL;
}

typedef napi_value (*register_fn)(napi_env, napi_value);

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: napi-host ADDON.node TAINT_FILE EXPECTED_VALUE\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "napi-host: dlopen: %s\n", dlerror());
    return 1;
  }
  register_fn init = (register_fn)dlsym(lib, "napi_register_module_v1");
  if (init == NULL) {
    fprintf(stderr, "napi-host: no napi_register_module_v1\n");
    return 1;
  }

  /* Two environments at once, as with a Worker beside the main thread. */
  struct napi_env__* envs[2];
  napi_value exports[2];
  for (int i = 0; i < 2; i++) {
    envs[i] = calloc(1, sizeof(struct napi_env__));
    napi_value e = new_value(napi_object);
    exports[i] = init(envs[i], e);
    if (exports[i] == NULL) exports[i] = e;
    if (envs[i]->instance_data == NULL) fail("the addon set no instance data (not context-aware?)");
  }
  if (envs[0]->instance_data == envs[1]->instance_data) fail("two environments share one addon instance");

  napi_env env = envs[0];
  napi_value x = exports[0];
  double parsed = number_of(call(env, x, "parseText", new_string("4097\n", NAPI_AUTO_LENGTH)), "parseText('4097')");
  napi_value bad = call(env, x, "parseText", new_string("nope", NAPI_AUTO_LENGTH));
  napi_value reason = bad->type == napi_object ? get_prop(bad, "reason") : NULL;
  if (reason == NULL || reason->type != napi_string) fail("parseText('nope') returned no {reason}");

  double handle = number_of(call(env, x, "openReader", new_string(argv[2], NAPI_AUTO_LENGTH)), "openReader(file)");
  napi_value h;
  napi_create_double(env, handle, &h);
  double value = number_of(call(env, x, "readValue", h), "readValue");
  double expected = strtod(argv[3], NULL);
  if (value != expected) fail("readValue returned the wrong value");
  /* An unknown handle is a TypeError, never a read of some other descriptor. */
  napi_value read_fn = get_prop(x, "readValue");
  if (read_fn != NULL && read_fn->type == napi_function) {
    napi_value bogus;
    napi_create_double(env, 9999, &bogus);
    struct napi_callback_info__ bogus_info = {x, 1, &bogus, read_fn->data};
    read_fn->cb(env, &bogus_info);
    if (env->pending == NULL) fail("readValue(9999) did not throw");
    env->pending = NULL;
  }

  napi_value missing = call(env, x, "openReader", new_string("/nonexistent/kernel-taint", NAPI_AUTO_LENGTH));
  napi_value err_no = missing->type == napi_object ? get_prop(missing, "errno") : NULL;
  napi_value syscall = missing->type == napi_object ? get_prop(missing, "syscall") : NULL;
  if (err_no == NULL || err_no->type != napi_number || err_no->num != ENOENT) fail("openReader(missing): no errno ENOENT");

  /* The second environment reads /proc on its own reader, then goes away first. */
  double proc = -1;
  napi_value ph = call(envs[1], exports[1], "openReader", new_string("/proc/sys/kernel/tainted", NAPI_AUTO_LENGTH));
  if (ph->type == napi_number) proc = number_of(call(envs[1], exports[1], "readValue", ph), "readValue(/proc)");
  teardown(envs[1]);

  call(env, x, "closeReader", h);
  if (number_of(call(env, x, "parseText", new_string("0\n", NAPI_AUTO_LENGTH)), "parseText('0')") != 0) {
    fail("parseText('0') != 0 after the other environment went away");
  }
  teardown(env);

  printf("{\"parsed\":%.0f,\"value\":%.0f,\"missingSyscall\":\"%s\",\"proc\":%.0f,\"failures\":%d}\n", parsed, value,
         syscall && syscall->str ? syscall->str : "", proc, failures);
  if (parsed != 4097) fail("parseText('4097') != 4097");
  return failures == 0 ? 0 : 1;
}
