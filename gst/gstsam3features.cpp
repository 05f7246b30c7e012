#include "gstsam3features.h"

static gpointer features_ref(gpointer p) {
  auto *f = static_cast<GstSam3Features *>(p);
  f->refcount.fetch_add(1, std::memory_order_relaxed);
  return f;
}

static void features_unref(gpointer p) {
  auto *f = static_cast<GstSam3Features *>(p);
  if (f->refcount.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete f;
}

void gst_sam3_features_attach(GstSam3Meta *meta, GstSam3Features *features) {
  gst_sam3_meta_set_handle(meta, features, features_ref, features_unref);
}

GstSam3Features *gst_sam3_features_get(GstSam3Meta *meta) {
  auto *f = static_cast<GstSam3Features *>(gst_sam3_meta_get_handle(meta));
  return f && f->magic == GstSam3Features::kMagic ? f : nullptr;
}
