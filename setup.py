"""fairseq_gpam: daGPAM attention (Heo & Choi, arXiv 2410.15578) as a fairseq plugin."""

from setuptools import find_packages, setup

setup(
    name="fairseq_gpam",
    version="0.1.0",
    description="Generalized probabilistic attention (daGPAM) for fairseq: models, criteria, scripts",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["fairseq_gpam", "fairseq_gpam.*", "gpam_tools", "gpam_tools.*"]),
    entry_points={"console_scripts": ["gpam = gpam_tools.cli:main"]},
    install_requires=[
        # fairseq 0.12.2 does not import on Python 3.11; this maintained fork does and
        # imports as `fairseq`. Install it with --no-build-isolation after torch (see Makefile).
        "fairseq-fixed==0.12.3.1",
        "torch>=2.6",  # weights_only=True is torch.load's default from 2.6 on
        "sacrebleu>=2.0",
        "sentencepiece>=0.1.99",
        # data-prep/: Moses tokenisation and joint BPE from PyPI instead of git clones
        "sacremoses>=0.1",
        "subword-nmt>=0.3.8",
        "hydra-core>=1.0.7,<1.4",
        "matplotlib>=3.5",
        "scipy>=1.7",  # gpam_tools/collect/stats.py: the t-test over seeds; gpam_tools/stats/paired_power.py
    ],
    extras_require={"test": ["pytest>=7", "hypothesis>=6"]},
    license="MIT",
)
