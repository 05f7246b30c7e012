/* gst-sam3: sam3overlay draws SAM 3 instances (masks, contours, boxes, labels) on raw video. */
#ifndef __GST_SAM3_OVERLAY_H__
#define __GST_SAM3_OVERLAY_H__

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_SAM3_OVERLAY (gst_sam3_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Overlay, gst_sam3_overlay, GST, SAM3_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(sam3overlay);

G_END_DECLS

#endif /* __GST_SAM3_OVERLAY_H__ */
