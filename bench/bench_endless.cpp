// An endless stream in miniature: frames of a scene where objects appear, move and leave
// run through  sam3detect ! sam3track ! sam3overlay ! sam3export ! fakesink  and every
// --every frames the table gets the process's resident memory, the objects tracked, how many
// track ids have been given so far (objects come and go) and the time per frame. Memory must
// be flat after warm-up, however long the stream.
//
//   bench_endless [--frames N] [--every K] [--model DIR] [--device D] [--size WxH]
//                 [--prompt TEXT] [--threshold X] [--object-scale X]
//
// Without --model a tiny random sam3_video model is generated; with random weights every
// detection starts an object (thresholds 0), so the tracker always has objects to carry. With a
// trained model (models/sam3-shapes: --prompt circle --threshold 0.3) the objects it tracks are
// the scene's circles, and "ids so far" counts them coming and going. sam3track runs with its
// defaults, so the curve is what an endless stream costs out of the box. --object-scale
// multiplies the circles' radii (6 to 15 pixels): models/sam3-shapes was trained on shapes of 5
// to 18 % of the frame and does not track smaller ones. "most objects" is the largest count
// since the row before (sampled every frame).
#include "gstsam3meta.h"
#include "model/test_model.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Options {
  long frames = 10000;
  long every = 500;
  std::string model;
  std::string device = "cpu";
  int width = 160, height = 120;
  std::string prompt = "object";
  double threshold = 0.0;
  double object_scale = 1.0;
};

void usage() {
  std::puts("usage: bench_endless [--frames N] [--every K] [--model DIR] [--device D] "
            "[--size WxH] [--prompt TEXT] [--threshold X] [--object-scale X]");
}

double rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0.0;
}

// Object i enters at frame 40*i (mod 2000), crosses the frame for 300..700 frames and leaves;
// at any moment a handful are on screen, and over the stream hundreds come and go. Saturated
// colours (RGB) that a model trained on named colours (red, blue, ...) knows.
void draw_scene(cv::Mat &img, long frame, double object_scale) {
  static const cv::Scalar kColours[] = {{220, 30, 30},  {30, 70, 220},  {40, 180, 50},
                                        {235, 220, 40}, {240, 130, 20}, {140, 50, 190}};
  img.setTo(cv::Scalar(40, 60, 40));
  for (int i = 0; i < 50; ++i) {
    const long start = 40L * i, life = 300 + (i * 97) % 400;
    const long t = (frame - start) % 2000;
    if (t < 0 || t >= life)
      continue;
    const double u = static_cast<double>(t) / life;
    const int x = static_cast<int>((i % 2 ? u : 1.0 - u) * img.cols);
    const int y = static_cast<int>((0.2 + 0.6 * ((i * 37) % 100) / 100.0) * img.rows);
    cv::circle(img, {x, y}, static_cast<int>(std::lround((6 + i % 10) * object_scale)),
               kColours[i % 6], cv::FILLED);
  }
}

// sam3track numbers objects 1, 2, 3... and never reuses an id, so the highest id seen at the
// sink is how many objects the stream has had (a set of them would itself grow).
using IdCounter = std::atomic<guint64>;

GstPadProbeReturn collect_ids(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *counter = static_cast<IdCounter *>(data);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(GST_PAD_PROBE_INFO_BUFFER(info));
  if (!meta)
    return GST_PAD_PROBE_OK;
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); ++i) {
    const guint64 id = gst_sam3_meta_get_instance(meta, i)->track_id;
    if (id > counter->load())
      counter->store(id);
  }
  return GST_PAD_PROBE_OK;
}

} // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--frames" && has_value)
      opt.frames = std::atol(argv[++i]);
    else if (a == "--every" && has_value)
      opt.every = std::atol(argv[++i]);
    else if (a == "--model" && has_value)
      opt.model = argv[++i];
    else if (a == "--device" && has_value)
      opt.device = argv[++i];
    else if (a == "--prompt" && has_value)
      opt.prompt = argv[++i];
    else if (a == "--threshold" && has_value)
      opt.threshold = std::atof(argv[++i]);
    else if (a == "--object-scale" && has_value)
      opt.object_scale = std::atof(argv[++i]);
    else if (a == "--size" && has_value &&
             std::sscanf(argv[++i], "%dx%d", &opt.width, &opt.height) == 2)
      continue;
    else {
      usage();
      return a == "--help" ? 0 : 2;
    }
  }
  if (opt.frames < 1 || opt.every < 1 || opt.width < 16 || opt.height < 16 ||
      !(opt.object_scale > 0.0)) {
    usage();
    return 2;
  }
  std::string tmp;
  if (opt.model.empty()) {
    char tmpl[] = "/tmp/sam3-bench-endless-XXXXXX";
    tmp = mkdtemp(tmpl);
    opt.model = tmp + "/tiny-video";
    sam3::write_test_model(opt.model, sam3::tiny_video_test_config(), 3);
  }

  const std::string threshold = std::to_string(opt.threshold);
  const std::string desc =
      "appsrc name=src is-live=false block=true format=time max-bytes=0 max-buffers=4 ! "
      "sam3detect name=detect model=" +
      opt.model + " device=" + opt.device + " prompt=\"" + opt.prompt +
      "\" threshold=" + threshold + " ! sam3track name=track detection-threshold=" + threshold +
      " new-object-threshold=" + threshold +
      " ! sam3overlay ! sam3export location=/dev/null ! fakesink name=sink sync=false";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &error);
  if (!pipeline || error) {
    std::fprintf(stderr, "cannot build the pipeline: %s\n", error ? error->message : "?");
    return 1;
  }
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement *track = gst_bin_get_by_name(GST_BIN(pipeline), "track");
  IdCounter counter{0};
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(sink_pad, GST_PAD_PROBE_TYPE_BUFFER, collect_ids, &counter, nullptr);
  gst_object_unref(sink_pad);
  gst_object_unref(sink);
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width",
                                      G_TYPE_INT, opt.width, "height", G_TYPE_INT, opt.height,
                                      "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  gst_app_src_set_caps(GST_APP_SRC(src), caps);
  gst_caps_unref(caps);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);

  std::printf("model %s, device %s, %dx%d frames, prompt \"%s\", threshold %g, object scale %g\n\n",
              opt.model.c_str(), opt.device.c_str(), opt.width, opt.height, opt.prompt.c_str(),
              opt.threshold, opt.object_scale);
  std::printf("| frame | RSS MiB | objects | most objects | ids so far | ms/frame |\n"
              "|---|---|---|---|---|---|\n");
  cv::Mat img(opt.height, opt.width, CV_8UC3);
  auto last = std::chrono::steady_clock::now();
  double warm_rss = 0.0, peak_after_warm = 0.0;
  int status = 0;
  guint most_objects = 0;
  for (long f = 0; f < opt.frames; ++f) {
    draw_scene(img, f, opt.object_scale);
    GstBuffer *buf = gst_buffer_new_memdup(img.data, img.total() * img.elemSize());
    GST_BUFFER_PTS(buf) = f * GST_SECOND / 30;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    if (gst_app_src_push_buffer(GST_APP_SRC(src), buf) != GST_FLOW_OK) {
      std::fprintf(stderr, "pipeline stopped at frame %ld\n", f);
      status = 1;
      break;
    }
    guint now_objects = 0;
    g_object_get(track, "objects", &now_objects, NULL);
    most_objects = std::max(most_objects, now_objects);
    if ((f + 1) % opt.every == 0) {
      const auto now = std::chrono::steady_clock::now();
      const double ms = std::chrono::duration<double, std::milli>(now - last).count() / opt.every;
      last = now;
      guint objects = 0;
      g_object_get(track, "objects", &objects, NULL);
      const double rss = rss_mib();
      // Warm-up: allocator pools and the memory bank fill during the first tenth.
      if (f + 1 >= opt.frames / 10 && warm_rss == 0.0)
        warm_rss = rss;
      if (warm_rss > 0.0)
        peak_after_warm = std::max(peak_after_warm, rss);
      std::printf("| %ld | %.1f | %u | %u | %" G_GUINT64_FORMAT " | %.2f |\n", f + 1, rss, objects,
                  most_objects, counter.load(), ms);
      most_objects = 0;
      std::fflush(stdout);
    }
  }
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 300 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (!msg || GST_MESSAGE_TYPE(msg) != GST_MESSAGE_EOS) {
    std::fprintf(stderr, "the pipeline did not finish cleanly\n");
    status = 1;
  }
  if (msg)
    gst_message_unref(msg);
  if (warm_rss > 0.0)
    std::printf("\nRSS after warm-up %.1f MiB, highest later %.1f MiB (+%.1f MiB)\n", warm_rss,
                peak_after_warm, peak_after_warm - warm_rss);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(track);
  gst_object_unref(src);
  gst_object_unref(pipeline);
  if (!tmp.empty())
    std::system(("rm -rf " + tmp).c_str());
  return status;
}
