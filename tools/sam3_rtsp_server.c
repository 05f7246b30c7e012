/* sam3-rtsp-server: serve GStreamer launch lines over RTSP.
 *
 *   sam3-rtsp-server [--address A] [--port N] [--user NAME:PASSWORD ...] [--users-file F]
 *                    [--auth digest|basic] [--tls-cert PEM [--tls-key PEM]]
 *                    --mount /path "LAUNCH" [--mount /path2 "LAUNCH2" ...]
 *
 * Each LAUNCH is a bin description whose payloaders are named pay0, pay1, ...; every mount's
 * media is shared, so all clients of a mount see the same (single) pipeline, and an analysis
 * chain in it runs once however many clients watch. Port 0 picks a free port. Once
 * listening, one line "rtsp://HOST:PORT/path" (rtsps:// with TLS) per mount is printed on
 * stdout (tests and scripts read them); SIGINT/SIGTERM stop the server.
 *
 * What leaves the host is protected by gst-rtsp-server's own GstRTSPAuth: the server
 * listens on the loopback interface unless told otherwise, asks for a user name and
 * password when users are given (digest by default, so no password crosses the network in
 * clear), and speaks TLS only (rtsps://, the media interleaved in the TLS connection) when
 * given a certificate. */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *path;
  const char *launch;
} Mount;

/* The role every user (or, with TLS and no users, every client) gets; each mount lets it
 * see and build the media. */
#define VIEWER_ROLE "viewer"

static void usage(FILE *out) {
  fprintf(out,
          "usage: sam3-rtsp-server [--address ADDR] [--port N] [--user NAME:PASSWORD ...]\n"
          "                        [--users-file FILE] [--auth digest|basic]\n"
          "                        [--tls-cert PEM [--tls-key PEM]] --mount /PATH \"LAUNCH\" ...\n"
          "\n"
          "Serves each LAUNCH (a gst-launch bin description; payloaders named pay0, pay1, ...)\n"
          "as shared media at rtsp://ADDR:N/PATH. --mount may be repeated.\n"
          "  --address ADDR     address to listen on (default 127.0.0.1: this host only;\n"
          "                     0.0.0.0 = every interface)\n"
          "  --port N           TCP port (default 8554; 0 = any free port)\n"
          "  --user NAME:PASS   a user allowed to watch (repeatable); without users anyone may\n"
          "  --users-file FILE  users, one NAME:PASSWORD per line (keeps passwords out of ps)\n"
          "  --auth METHOD      digest (default; the password never crosses the network) or\n"
          "                     basic (the password is only base64-encoded: use with TLS)\n"
          "  --tls-cert PEM     serve rtsps:// only, with this certificate (and its key, unless\n"
          "  --tls-key PEM      given apart)\n"
          "Prints one URL per mount once listening; stop with Ctrl-C.\n"
          "Example:\n"
          "  sam3-rtsp-server --port 8554 --mount /test \\\n"
          "    \"videotestsrc is-live=true ! x264enc tune=zerolatency ! rtph264pay name=pay0\"\n");
}

/* Adds "NAME:PASSWORD" to @auth; FALSE when there is no ':' or no name. */
static gboolean add_user(GstRTSPAuth *auth, GstRTSPAuthMethod method, const char *entry) {
  const char *colon = strchr(entry, ':');
  if (colon == NULL || colon == entry)
    return FALSE;
  gchar *name = g_strndup(entry, colon - entry);
  GstRTSPToken *token =
      gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, VIEWER_ROLE, NULL);
  if (method == GST_RTSP_AUTH_BASIC) {
    gchar *basic = gst_rtsp_auth_make_basic(name, colon + 1);
    gst_rtsp_auth_add_basic(auth, basic, token);
    g_free(basic);
  } else {
    gst_rtsp_auth_add_digest(auth, name, colon + 1, token);
  }
  gst_rtsp_token_unref(token);
  g_free(name);
  return TRUE;
}

/* The users of --user and --users-file; FALSE (after saying why) on a malformed entry. */
static gboolean add_users(GstRTSPAuth *auth, GstRTSPAuthMethod method, GPtrArray *users,
                          const char *users_file) {
  for (guint i = 0; i < users->len; i++) {
    if (!add_user(auth, method, g_ptr_array_index(users, i))) {
      fprintf(stderr, "sam3-rtsp-server: --user wants NAME:PASSWORD\n");
      return FALSE;
    }
  }
  if (users_file == NULL)
    return TRUE;
  gchar *text = NULL;
  GError *err = NULL;
  if (!g_file_get_contents(users_file, &text, NULL, &err)) {
    fprintf(stderr, "sam3-rtsp-server: --users-file: %s\n", err->message);
    g_error_free(err);
    return FALSE;
  }
  gchar **lines = g_strsplit(text, "\n", -1);
  gboolean ok = TRUE;
  for (guint i = 0; lines[i] && ok; i++) {
    g_strchomp(lines[i]);
    if (lines[i][0] != '\0' && lines[i][0] != '#' && !add_user(auth, method, lines[i])) {
      fprintf(stderr, "sam3-rtsp-server: %s:%u: expected NAME:PASSWORD\n", users_file, i + 1);
      ok = FALSE;
    }
  }
  g_strfreev(lines);
  g_free(text);
  return ok;
}

static gboolean quit_on_signal(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

/* A media pipeline that fails (e.g. a camera that cannot be opened) is torn down by the
 * server with only a debug log; saying so on stderr is what makes the cause findable. */
static void on_media_bus_error(GstBus *bus, GstMessage *msg, gpointer path) {
  (void)bus;
  GError *err = NULL;
  gchar *debug = NULL;
  gst_message_parse_error(msg, &err, &debug);
  fprintf(stderr, "sam3-rtsp-server: %s: error from %s: %s (%s)\n", (const char *)path,
          GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message, debug ? debug : "");
  g_clear_error(&err);
  g_free(debug);
}

static void on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer path) {
  (void)factory;
  GstElement *pipeline = gst_rtsp_media_get_element(media);
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_bus_enable_sync_message_emission(bus);
  g_signal_connect(bus, "sync-message::error", G_CALLBACK(on_media_bus_error), path);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  fprintf(stderr, "sam3-rtsp-server: %s: starting media\n", (const char *)path);
}

/* gst-rtsp-server needs the description wrapped in a bin "( ... )". */
static gchar *as_bin_description(const char *launch) {
  const char *p = launch;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '(')
    return g_strdup(launch);
  return g_strdup_printf("( %s )", launch);
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);

  const char *address = "127.0.0.1";
  const char *port = "8554";
  const char *users_file = NULL, *auth_name = "digest", *tls_cert = NULL, *tls_key = NULL;
  GPtrArray *users = g_ptr_array_new();
  GArray *mounts = g_array_new(FALSE, FALSE, sizeof(Mount));
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(arg, "--address") && i + 1 < argc) {
      address = argv[++i];
    } else if (!strcmp(arg, "--port") && i + 1 < argc) {
      port = argv[++i];
    } else if (!strcmp(arg, "--user") && i + 1 < argc) {
      g_ptr_array_add(users, argv[++i]);
    } else if (!strcmp(arg, "--users-file") && i + 1 < argc) {
      users_file = argv[++i];
    } else if (!strcmp(arg, "--auth") && i + 1 < argc) {
      auth_name = argv[++i];
    } else if (!strcmp(arg, "--tls-cert") && i + 1 < argc) {
      tls_cert = argv[++i];
    } else if (!strcmp(arg, "--tls-key") && i + 1 < argc) {
      tls_key = argv[++i];
    } else if (!strcmp(arg, "--mount") && i + 2 < argc) {
      Mount m = {argv[i + 1], argv[i + 2]};
      if (m.path[0] != '/') {
        fprintf(stderr, "sam3-rtsp-server: mount path \"%s\" must start with '/'\n", m.path);
        return 2;
      }
      g_array_append_val(mounts, m);
      i += 2;
    } else {
      fprintf(stderr, "sam3-rtsp-server: unknown or incomplete argument \"%s\"\n\n", arg);
      usage(stderr);
      return 2;
    }
  }
  char *end = NULL;
  long port_number = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || port_number < 0 || port_number > 65535) {
    fprintf(stderr, "sam3-rtsp-server: --port \"%s\" is not a port number (0-65535)\n", port);
    return 2;
  }
  if (mounts->len == 0) {
    fprintf(stderr, "sam3-rtsp-server: nothing to serve: give at least one --mount\n\n");
    usage(stderr);
    return 2;
  }
  GstRTSPAuthMethod method;
  if (!strcmp(auth_name, "digest")) {
    method = GST_RTSP_AUTH_DIGEST;
  } else if (!strcmp(auth_name, "basic")) {
    method = GST_RTSP_AUTH_BASIC;
  } else {
    fprintf(stderr, "sam3-rtsp-server: --auth is digest or basic, not \"%s\"\n", auth_name);
    return 2;
  }
  if (tls_key && !tls_cert) {
    fprintf(stderr, "sam3-rtsp-server: --tls-key needs --tls-cert\n");
    return 2;
  }

  /* Without users nor TLS there is nothing to check, and no GstRTSPAuth: anyone who can
   * reach the address may watch, as before. */
  GstRTSPAuth *auth = NULL;
  const gboolean with_users = users->len > 0 || users_file != NULL;
  if (with_users || tls_cert) {
    auth = gst_rtsp_auth_new();
    if (with_users) {
      if (!add_users(auth, method, users, users_file))
        return 2;
      gst_rtsp_auth_set_supported_methods(auth, method);
    } else {
      GstRTSPToken *token =
          gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, VIEWER_ROLE, NULL);
      gst_rtsp_auth_set_default_token(auth, token);
      gst_rtsp_token_unref(token);
    }
  }
  if (tls_cert) {
    GError *err = NULL;
    GTlsCertificate *cert = tls_key ? g_tls_certificate_new_from_files(tls_cert, tls_key, &err)
                                    : g_tls_certificate_new_from_file(tls_cert, &err);
    if (cert == NULL) {
      fprintf(stderr, "sam3-rtsp-server: cannot load the TLS certificate %s: %s\n", tls_cert,
              err->message);
      return 2;
    }
    gst_rtsp_auth_set_tls_certificate(auth, cert);
    g_object_unref(cert);
  }

  GstRTSPServer *server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, address);
  gst_rtsp_server_set_service(server, port);
  if (auth) {
    gst_rtsp_server_set_auth(server, auth);
    g_object_unref(auth);
  }
  GstRTSPMountPoints *points = gst_rtsp_server_get_mount_points(server);
  for (guint i = 0; i < mounts->len; i++) {
    const Mount *m = &g_array_index(mounts, Mount, i);
    /* Parse once here so a typo fails at start-up, not when the first client connects. */
    gchar *description = as_bin_description(m->launch);
    GError *err = NULL;
    GstElement *probe = gst_parse_launch(description, &err);
    if (!probe) {
      fprintf(stderr, "sam3-rtsp-server: %s: invalid launch line: %s\n", m->path, err->message);
      return 2;
    }
    gst_object_unref(probe);
    g_clear_error(&err);

    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, description);
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    /* TLS covers the RTSP connection only: RTP over UDP would leave it in clear, so the
     * media must be interleaved in that connection. */
    if (tls_cert)
      gst_rtsp_media_factory_set_protocols(factory, GST_RTSP_LOWER_TRANS_TCP);
    if (auth)
      gst_rtsp_media_factory_add_role(factory, VIEWER_ROLE, GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                      G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                      G_TYPE_BOOLEAN, TRUE, NULL);
    g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure), (gpointer)m->path);
    gst_rtsp_mount_points_add_factory(points, m->path, factory);
    g_free(description);
  }
  g_object_unref(points);

  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  if (gst_rtsp_server_attach(server, NULL) == 0) {
    fprintf(stderr, "sam3-rtsp-server: cannot listen on %s:%s (port in use?)\n", address, port);
    return 1;
  }
  int bound = gst_rtsp_server_get_bound_port(server);
  const char *host = strcmp(address, "0.0.0.0") == 0 ? "127.0.0.1" : address;
  for (guint i = 0; i < mounts->len; i++)
    printf("%s://%s:%d%s\n", tls_cert ? "rtsps" : "rtsp", host, bound,
           g_array_index(mounts, Mount, i).path);
  fflush(stdout);

  g_unix_signal_add(SIGINT, quit_on_signal, loop);
  g_unix_signal_add(SIGTERM, quit_on_signal, loop);
  g_main_loop_run(loop);

  g_main_loop_unref(loop);
  g_object_unref(server);
  g_array_free(mounts, TRUE);
  g_ptr_array_free(users, TRUE);
  return 0;
}
