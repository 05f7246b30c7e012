// The JSON sam3export writes, read back by gst_buffer_add_sam3_meta_from_json: any text gives
// an error or a meta whose JSON reads back to the same JSON.
#include "gstsam3meta.h"

#include <gst/gst.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  gst_init(nullptr, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  if (text.find('\0') != std::string::npos)
    return 0; // the API takes a C string
  GstBuffer *buffer = gst_buffer_new();
  GError *error = nullptr;
  GstSam3Meta *meta = gst_buffer_add_sam3_meta_from_json(buffer, text.c_str(), &error);
  if (!meta) {
    if (!error)
      std::abort(); // a failure must say why
    g_error_free(error);
    gst_buffer_unref(buffer);
    return 0;
  }
  gchar *once = gst_sam3_meta_to_json(meta, nullptr, TRUE);
  GstBuffer *again = gst_buffer_new();
  GstSam3Meta *copy = gst_buffer_add_sam3_meta_from_json(again, once, nullptr);
  if (!copy)
    std::abort();
  gchar *twice = gst_sam3_meta_to_json(copy, nullptr, TRUE);
  if (std::strcmp(once, twice) != 0)
    std::abort();
  g_free(once);
  g_free(twice);
  gst_buffer_unref(again);
  gst_buffer_unref(buffer);
  return 0;
}
