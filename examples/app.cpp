/* An application around the sam3 elements, using GStreamer only.
 *
 * Runs  source ! sam3detect ! sam3overlay ! sam3export post-messages=true ! sink,
 * prints every frame's results from the "sam3-results" bus messages, and switches the
 * prompt while playing:
 *
 *   sam3-example-app --model ~/models/sam3 --prompt person --then "red car" --switch-at 30 in.mp4
 *
 * Without a video file it runs --frames frames of videotestsrc. --display shows the overlay.
 */
#include <gst/gst.h>
#include <gstsam3meta.h>

#include <cstdlib>
#include <string>

namespace {

struct Options {
  gchar *model = nullptr;
  gchar *prompt = nullptr;
  gchar *then_prompt = nullptr;
  gchar *device = nullptr;
  gdouble threshold = 0.5;
  gint frames = 30;
  gint switch_at = 10;
  gboolean display = FALSE;
};

struct App {
  Options options;
  GMainLoop *loop = nullptr;
  GstElement *detect = nullptr;
  int status = EXIT_SUCCESS;
};

/* Prints one frame's results. The JSON of the message is read back into a GstSam3Meta, so
 * the application uses the same accessors as one that reads the meta off the buffers. */
void print_results(const gchar *json) {
  GstBuffer *scratch = gst_buffer_new();
  GError *error = nullptr;
  GstSam3Meta *meta = gst_buffer_add_sam3_meta_from_json(scratch, json, &error);
  if (meta == nullptr) {
    g_printerr("unreadable sam3-results message: %s\n", error->message);
    g_error_free(error);
    gst_buffer_unref(scratch);
    return;
  }
  const guint n = gst_sam3_meta_get_n_instances(meta);
  g_print("frame %" G_GUINT64_FORMAT ": %u instance(s)\n", meta->frame_number, n);
  for (guint i = 0; i < n; i++) {
    const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
    g_print("  #%u %s score=%.3f box=(%.1f,%.1f %.1fx%.1f)\n", inst->instance_id,
            gst_sam3_instance_get_label(inst), inst->score, inst->x, inst->y, inst->w, inst->h);
  }
  gst_buffer_unref(scratch);
}

/* Runs on the streaming thread, right after sam3export has handled frame `switch_at`.
 * sam3detect reads its prompt once per frame, so the new prompt applies from exactly the
 * next frame; switching from the main loop would work too, but a few frames later. */
GstBusSyncReply switch_prompt(GstBus *, GstMessage *message, gpointer data) {
  auto *app = static_cast<App *>(data);
  const GstStructure *s = gst_message_get_structure(message);
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT || s == nullptr ||
      !gst_structure_has_name(s, "sam3-results") || app->options.then_prompt == nullptr)
    return GST_BUS_PASS;
  guint64 frame = 0;
  if (gst_structure_get_uint64(s, "frame", &frame) && frame == (guint64)app->options.switch_at) {
    g_object_set(app->detect, "prompt", app->options.then_prompt, NULL);
    g_print("prompt -> \"%s\" from frame %" G_GUINT64_FORMAT "\n", app->options.then_prompt,
            frame + 1);
  }
  return GST_BUS_PASS;
}

gboolean on_message(GstBus *, GstMessage *message, gpointer data) {
  auto *app = static_cast<App *>(data);
  switch (GST_MESSAGE_TYPE(message)) {
  case GST_MESSAGE_ELEMENT: {
    const GstStructure *s = gst_message_get_structure(message);
    if (s != nullptr && gst_structure_has_name(s, "sam3-results"))
      print_results(gst_structure_get_string(s, "json"));
    break;
  }
  case GST_MESSAGE_WARNING: {
    GError *error = nullptr;
    gst_message_parse_warning(message, &error, nullptr);
    g_printerr("warning: %s\n", error->message);
    g_error_free(error);
    break;
  }
  case GST_MESSAGE_ERROR: {
    GError *error = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error(message, &error, &debug);
    g_printerr("error: %s\n%s\n", error->message, debug ? debug : "");
    g_error_free(error);
    g_free(debug);
    app->status = EXIT_FAILURE;
    g_main_loop_quit(app->loop);
    break;
  }
  case GST_MESSAGE_EOS:
    g_main_loop_quit(app->loop);
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

std::string pipeline_description(const Options &options, const gchar *video) {
  std::string source;
  if (video != nullptr) {
    gchar *quoted = g_shell_quote(video);
    source = std::string("filesrc location=") + quoted + " ! decodebin ! videoconvert";
    g_free(quoted);
  } else {
    source = "videotestsrc num-buffers=" + std::to_string(options.frames) +
             " ! video/x-raw,width=320,height=240";
  }
  const std::string sink = options.display ? "videoconvert ! autovideosink" : "fakesink sync=false";
  return source + " ! sam3detect name=detect ! sam3overlay ! sam3export post-messages=true ! " +
         sink;
}

} // namespace

int main(int argc, char **argv) {
  App app;
  Options &o = app.options;
  const GOptionEntry entries[] = {
      {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "SAM 3 model folder (required)", "DIR"},
      {"prompt", 'p', 0, G_OPTION_ARG_STRING, &o.prompt, "concepts at the start", "TEXT"},
      {"then", 't', 0, G_OPTION_ARG_STRING, &o.then_prompt, "concepts after --switch-at", "TEXT"},
      {"switch-at", 's', 0, G_OPTION_ARG_INT, &o.switch_at, "last frame of the first prompt", "N"},
      {"device", 'd', 0, G_OPTION_ARG_STRING, &o.device, "cpu, cuda or cuda:N", "DEV"},
      {"threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o.threshold, "minimum score, 0..1", "T"},
      {"frames", 'n', 0, G_OPTION_ARG_INT, &o.frames, "frames of videotestsrc", "N"},
      {"display", 0, 0, G_OPTION_ARG_NONE, &o.display, "show the overlay in a window", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("[VIDEO-FILE]");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  GError *error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr("%s\n", error->message);
    g_error_free(error);
    g_option_context_free(context);
    return EXIT_FAILURE;
  }
  g_option_context_free(context);
  if (o.model == nullptr || argc > 2 || o.frames < 1 || o.threshold < 0 || o.threshold > 1) {
    g_printerr("usage: %s --model DIR [--prompt TEXT] [--then TEXT --switch-at N] "
               "[--threshold 0..1] [--frames N] [--display] [VIDEO-FILE]\n",
               argv[0]);
    return EXIT_FAILURE;
  }

  const std::string description = pipeline_description(o, argc == 2 ? argv[1] : nullptr);
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (pipeline == nullptr) {
    g_printerr("cannot build \"%s\": %s\n", description.c_str(), error->message);
    g_error_free(error);
    return EXIT_FAILURE;
  }
  app.detect = gst_bin_get_by_name(GST_BIN(pipeline), "detect");
  g_object_set(app.detect, "model", o.model, "prompt", o.prompt ? o.prompt : "person", "device",
               o.device ? o.device : "cpu", "threshold", o.threshold, NULL);

  app.loop = g_main_loop_new(nullptr, FALSE);
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, switch_prompt, &app, nullptr);
  gst_bus_add_watch(bus, on_message, &app);

  /* A failing start (no model, bad device) posts an ERROR that the loop reports. */
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_main_loop_run(app.loop);

  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_bus_remove_watch(bus);
  gst_object_unref(bus);
  gst_object_unref(app.detect);
  gst_object_unref(pipeline);
  g_main_loop_unref(app.loop);
  g_free(o.model);
  g_free(o.prompt);
  g_free(o.then_prompt);
  g_free(o.device);
  return app.status;
}
