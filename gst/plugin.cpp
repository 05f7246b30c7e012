/* gst-sam3: registration of the "sam3" plugin's elements. */
#include <gst/gst.h>

#include "gstsam3detect.h"
#include "gstsam3export.h"
#include "gstsam3overlay.h"
#include "gstsam3reconnectsrc.h"
#include "gstsam3track.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean registered = FALSE;
  registered |= GST_ELEMENT_REGISTER(sam3detect, plugin);
  registered |= GST_ELEMENT_REGISTER(sam3track, plugin);
  registered |= GST_ELEMENT_REGISTER(sam3overlay, plugin);
  registered |= GST_ELEMENT_REGISTER(sam3export, plugin);
  registered |= GST_ELEMENT_REGISTER(sam3reconnectsrc, plugin);
  return registered;
}

/* GStreamer accepts only the licences it lists; Apache-2.0 is not among them, so the
 * plugin declares "unknown" (the project licence is in the package metadata). */
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, sam3,
                  "SAM 3 (Segment Anything Model 3) concept segmentation and tracking on video",
                  plugin_init, VERSION, GST_LICENSE_UNKNOWN, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
