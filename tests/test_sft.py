from langcpt.sft import IGNORE, PadCollator, assistant_spans, encode_conversation

CONV = [{"role": "system", "content": "Du bist ein einfühlsamer Begleiter."},
        {"role": "user", "content": "Ich bin müde."},
        {"role": "assistant", "content": "Das klingt anstrengend. Was raubt dir Kraft?"},
        {"role": "user", "content": "Die Arbeit."},
        {"role": "assistant", "content": "Magst du mehr erzählen?"}]


def test_labels_cover_exactly_the_assistant_turns(smollm2_tokenizer):
    tok = smollm2_tokenizer
    row = encode_conversation(tok, CONV, max_length=512)
    learned = tok.decode([t for t, lab in zip(row["input_ids"], row["labels"]) if lab != IGNORE])
    assert learned.count("<|im_end|>") == 2  # each assistant turn learns to stop
    assert "Das klingt anstrengend. Was raubt dir Kraft?" in learned and "Magst du mehr erzählen?" in learned
    assert "Ich bin müde" not in learned and "Die Arbeit" not in learned and "einfühlsamer" not in learned
    assert "user" not in learned and "system" not in learned
    text, spans = assistant_spans(tok, CONV)
    assert len(spans) == 2 and text[spans[1][0]:spans[1][1]].startswith("Magst du")


def test_truncation_without_assistant_tokens_drops_the_conversation(smollm2_tokenizer):
    assert encode_conversation(smollm2_tokenizer, CONV, max_length=8) is None


def test_collator_pads_with_ignored_labels():
    batch = PadCollator(pad_id=2)([{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]},
                                   {"input_ids": [8], "labels": [8]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
