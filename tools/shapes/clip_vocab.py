"""CLIP's BPE tokenizer files (vocab.json + merges.txt) from bpe_simple_vocab_16e6.txt.gz.

Mirrors src/text/tokenizer.cpp (Tokenizer::from_bpe_gz followed by Tokenizer::save), which in
turn mirrors OpenAI CLIP's SimpleTokenizer: the 256 byte symbols in bytes_to_unicode order,
the same 256 with "</w>", one symbol per merge (merges 1..48894 of the file), then the two
special tokens; 49408 symbols in all. The files load in transformers' CLIPTokenizer and in the
C++ Tokenizer::from_vocab_merges. The vocabulary is OpenAI CLIP's (MIT licence).
"""

import gzip
import json
import os

# CLIP keeps merges 1..48894 so that the vocabulary is 49152 - 256 + 2 = 49408 symbols.
CLIP_MERGE_COUNT = 49152 - 256 - 2
DEFAULT_BPE = "/work/shared/assets/tokenizer/bpe_simple_vocab_16e6.txt.gz"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1:CLIP_MERGE_COUNT + 1]]
    if len(merges) != CLIP_MERGE_COUNT or any(len(m) != 2 for m in merges):
        raise ValueError("%s: not CLIP's BPE merges file" % path)
    symbols = list(bytes_to_unicode().values())
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {}
    for i, s in enumerate(vocab_list):
        vocab[s] = i  # a repeated symbol keeps its last id, as the C++ and CLIP do
    return vocab, merges


def write_tokenizer_files(out_dir, bpe_gz=DEFAULT_BPE):
    vocab, merges = read_bpe_gz(bpe_gz)
    # A repeated merge keeps its last rank (as in the C++ writer); none is expected.
    last_rank = {}
    for rank, m in enumerate(merges):
        last_rank[m] = rank
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(vocab, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for rank, m in enumerate(merges):
            if last_rank[m] == rank:
                f.write("%s %s\n" % m)
    return len(vocab)


def load_tokenizer(model_dir):
    from transformers import CLIPTokenizer
    return CLIPTokenizer(vocab_file=os.path.join(model_dir, "vocab.json"),
                         merges_file=os.path.join(model_dir, "merges.txt"))
