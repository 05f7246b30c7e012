/* gst-sam3: what sam3detect and sam3track share as elements that run a SAM 3 model: the
 * model, device, precision and qos properties and the frames-processed / frames-skipped
 * counters, loading the model through the registry (elements naming the same files share one
 * copy), the caps and the RGB conversion, QoS, and adding their own latency to LATENCY
 * queries, with the element errors these raise.
 *
 * A C++ member of each element rather than a GType base class: both stay direct
 * GstBaseTransform subclasses and keep their own property numbering, which is what the
 * generated reference pages (docs/reference) show.
 */
#ifndef __GST_SAM3_MODEL_ELEMENT_H__
#define __GST_SAM3_MODEL_ELEMENT_H__

#include "gstsam3rgb.h"

#include "model/model.h"

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <memory>
#include <string>

G_BEGIN_DECLS

/**
 * GstSam3Precision:
 * @GST_SAM3_PRECISION_FP32: 32-bit float
 * @GST_SAM3_PRECISION_BF16: bfloat16 (fast on recent GPUs)
 * @GST_SAM3_PRECISION_FP16: IEEE half
 * @GST_SAM3_PRECISION_AUTOCAST_BF16: fp32 weights run under bfloat16 autocast, the official
 *   SAM 3's precision (matrix products in bf16, normalisations and reductions in fp32)
 *
 * The arithmetic the model runs in.
 */
typedef enum {
  GST_SAM3_PRECISION_FP32 = 0,
  GST_SAM3_PRECISION_BF16 = 1,
  GST_SAM3_PRECISION_FP16 = 2,
  GST_SAM3_PRECISION_AUTOCAST_BF16 = 3,
} GstSam3Precision;

#define GST_TYPE_SAM3_PRECISION (gst_sam3_precision_get_type())
GType gst_sam3_precision_get_type(void);

G_END_DECLS

/* One shared property as an element numbers and words it: each element describes what its
 * model is for. */
struct Sam3PropertyText {
  guint id;
  const gchar *blurb;
};

struct Sam3ModelProperties {
  Sam3PropertyText model, device, precision, qos, frames_processed, frames_skipped;
};

class Sam3ModelElement {
public:
  static void install_properties(GObjectClass *klass, const Sam3ModelProperties &properties);

  Sam3ModelElement(GstBaseTransform *element, const Sam3ModelProperties &properties);
  Sam3ModelElement(const Sam3ModelElement &) = delete;
  Sam3ModelElement &operator=(const Sam3ModelElement &) = delete;
  ~Sam3ModelElement();

  /* Each takes the object lock; FALSE when @prop_id is not a shared property. */
  bool set_property(guint prop_id, const GValue *value);
  bool get_property(guint prop_id, GValue *value);

  /* The counters and the QoS state start from zero. */
  void start();
  void stop();

  /* The model the properties name, loaded once per process for the same files
   * (model/registry.h). TRUE with a NULL @model when the model property is unset; FALSE
   * after posting an element error when it cannot be loaded. */
  gboolean acquire_model(std::shared_ptr<sam3::Model> &model);
  /* The model property; empty when unset. */
  std::string model_path();

  /* The frame format of @caps, and the RGB conversion for it; FALSE after posting an
   * element error. */
  gboolean set_caps(GstCaps *caps);
  const GstVideoInfo &info() const { return info_; }
  /* (H, W, 3) uint8 view of @buffer in RGB, valid until the next call; undefined when it
   * cannot be mapped. */
  torch::Tensor to_rgb(GstBuffer *buffer) { return converter_.convert(buffer); }

  /* QoS: a QOS event from downstream, and a flush, which makes its verdicts stale. */
  void src_event(GstEvent *event);
  void flush();
  /* Whether QoS skips @buf (qos on and downstream reported its running time late); a
   * skipped frame counts in frames-skipped. */
  bool skip_late(GstBuffer *buf);
  void count_processed();

  /* For a LATENCY query the base class answered on the source pad: adds @own(@element,
   * live) to its minimum and (when bounded) maximum. */
  void add_latency(GstPadDirection direction, GstQuery *query,
                   GstClockTime (*own)(GstBaseTransform *element, gboolean live));

private:
  GstBaseTransform *element_;
  const Sam3ModelProperties &properties_;

  /* under the object lock */
  gchar *model_path_ = nullptr;
  gchar *device_ = nullptr;
  GstSam3Precision precision_ = GST_SAM3_PRECISION_FP32;
  gboolean qos_ = TRUE;
  GstClockTime earliest_time_ = GST_CLOCK_TIME_NONE;
  guint64 frames_processed_ = 0;
  guint64 frames_skipped_ = 0;

  /* streaming thread only */
  GstVideoInfo info_;
  Sam3RgbConverter converter_;
};

#endif /* __GST_SAM3_MODEL_ELEMENT_H__ */
