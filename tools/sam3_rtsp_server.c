/* sam3-rtsp-server: serve GStreamer launch lines over RTSP.
 *
 *   sam3-rtsp-server [--address A] [--port N] --mount /path "LAUNCH" [--mount /path2 "LAUNCH2" ...]
 *
 * Each LAUNCH is a bin description whose payloaders are named pay0, pay1, ...; every mount's
 * media is shared, so all clients of a mount see the same (single) pipeline, and an analysis
 * chain in it runs once however many clients watch. Port 0 picks a free port. Once
 * listening, one line "rtsp://HOST:PORT/path" per mount is printed on stdout (tests and
 * scripts read them); SIGINT/SIGTERM stop the server. */
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

static void usage(FILE *out) {
  fprintf(out,
          "usage: sam3-rtsp-server [--address ADDR] [--port N] --mount /PATH \"LAUNCH\" ...\n"
          "\n"
          "Serves each LAUNCH (a gst-launch bin description; payloaders named pay0, pay1, ...)\n"
          "as shared media at rtsp://ADDR:N/PATH. --mount may be repeated.\n"
          "  --address ADDR  address to listen on (default 0.0.0.0)\n"
          "  --port N        TCP port (default 8554; 0 = any free port)\n"
          "Prints one URL per mount once listening; stop with Ctrl-C.\n"
          "Example:\n"
          "  sam3-rtsp-server --port 8554 --mount /test \\\n"
          "    \"videotestsrc is-live=true ! x264enc tune=zerolatency ! rtph264pay name=pay0\"\n");
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

  const char *address = "0.0.0.0";
  const char *port = "8554";
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

  GstRTSPServer *server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, address);
  gst_rtsp_server_set_service(server, port);
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
    printf("rtsp://%s:%d%s\n", host, bound, g_array_index(mounts, Mount, i).path);
  fflush(stdout);

  g_unix_signal_add(SIGINT, quit_on_signal, loop);
  g_unix_signal_add(SIGTERM, quit_on_signal, loop);
  g_main_loop_run(loop);

  g_main_loop_unref(loop);
  g_object_unref(server);
  g_array_free(mounts, TRUE);
  return 0;
}
