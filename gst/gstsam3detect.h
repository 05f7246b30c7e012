/* gst-sam3: sam3detect finds and segments every instance of text concepts on raw video. */
#ifndef __GST_SAM3_DETECT_H__
#define __GST_SAM3_DETECT_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_SAM3_DETECT (gst_sam3_detect_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Detect, gst_sam3_detect, GST, SAM3_DETECT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(sam3detect);

G_END_DECLS

#endif /* __GST_SAM3_DETECT_H__ */
