/* gst-sam3: sam3reconnectsrc, a decoding live source (RTSP camera) that survives disconnects. */
#ifndef __GST_SAM3_RECONNECT_SRC_H__
#define __GST_SAM3_RECONNECT_SRC_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_SAM3_RECONNECT_SRC (gst_sam3_reconnect_src_get_type())
G_DECLARE_FINAL_TYPE(GstSam3ReconnectSrc, gst_sam3_reconnect_src, GST, SAM3_RECONNECT_SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE(sam3reconnectsrc);

G_END_DECLS

#endif /* __GST_SAM3_RECONNECT_SRC_H__ */
