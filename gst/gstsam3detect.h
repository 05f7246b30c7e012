/* gst-sam3: sam3detect finds and segments every instance of text concepts on raw video. */
#ifndef __GST_SAM3_DETECT_H__
#define __GST_SAM3_DETECT_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GstSam3Precision:
 * @GST_SAM3_PRECISION_FP32: 32-bit float
 * @GST_SAM3_PRECISION_BF16: bfloat16 (fast on recent GPUs)
 * @GST_SAM3_PRECISION_FP16: IEEE half
 *
 * The arithmetic the model runs in.
 */
typedef enum {
  GST_SAM3_PRECISION_FP32 = 0,
  GST_SAM3_PRECISION_BF16 = 1,
  GST_SAM3_PRECISION_FP16 = 2,
} GstSam3Precision;

#define GST_TYPE_SAM3_PRECISION (gst_sam3_precision_get_type())
GType gst_sam3_precision_get_type(void);

#define GST_TYPE_SAM3_DETECT (gst_sam3_detect_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Detect, gst_sam3_detect, GST, SAM3_DETECT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(sam3detect);

G_END_DECLS

#endif /* __GST_SAM3_DETECT_H__ */
