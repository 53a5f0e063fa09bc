"""Taking trained models out of pefomed, and bringing original-format checkpoints in.

    from pefomed.export import export_model, convert_llava_med
    export_model("runs/my-run", "merged/")        # standalone transformers folder
    convert_llava_med("llava-med-v1.5", "llava-med-hf", vision_tower="clip-vit-large-patch14-336")
"""
from pefomed.export.convert import convert_llava_med, is_original_llava
from pefomed.export.card import adapter_card, export_card, write_adapter_card
from pefomed.export.merge import check_exportable, merged_bundle
from pefomed.export.prompt import prompt_template
from pefomed.export.save import export_model, read_export
from pefomed.export.source import AdapterSource, resolve_adapter_source

__all__ = ["AdapterSource", "adapter_card", "check_exportable", "convert_llava_med", "is_original_llava", "export_card", "export_model",
           "merged_bundle", "prompt_template", "read_export", "resolve_adapter_source", "write_adapter_card"]
