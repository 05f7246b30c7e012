/* gst-sam3: sam3detect finds and segments every instance of text concepts on raw video. */
#ifndef __GST_SAM3_DETECT_H__
#define __GST_SAM3_DETECT_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GstSam3InstanceMasks:
 * @GST_SAM3_INSTANCE_MASKS_AUTO: every frame, except where the buffers go straight (or through
 *   queues) to a sam3track that gets the detector's features, and replaces the instances
 * @GST_SAM3_INSTANCE_MASKS_ALWAYS: every frame
 * @GST_SAM3_INSTANCE_MASKS_NEVER: boxes and scores only
 *
 * Whether sam3detect samples each instance's mask at frame size into the metadata.
 */
typedef enum {
  GST_SAM3_INSTANCE_MASKS_AUTO = 0,
  GST_SAM3_INSTANCE_MASKS_ALWAYS = 1,
  GST_SAM3_INSTANCE_MASKS_NEVER = 2,
} GstSam3InstanceMasks;

GType gst_sam3_instance_masks_get_type(void);
#define GST_TYPE_SAM3_INSTANCE_MASKS (gst_sam3_instance_masks_get_type())

#define GST_TYPE_SAM3_DETECT (gst_sam3_detect_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Detect, gst_sam3_detect, GST, SAM3_DETECT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(sam3detect);

G_END_DECLS

#endif /* __GST_SAM3_DETECT_H__ */
