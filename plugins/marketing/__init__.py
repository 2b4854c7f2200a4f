"""Database marketing: segments, customer analysis (RFM), campaigns, sequences, effectiveness.

A module plugin written only against ``crm_platform.sdk``, shaped like a third-party plugin
(see ``docs/modules/marketing.md``).
"""
