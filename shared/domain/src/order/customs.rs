//! What a shipment carries besides its parcels: customs data for a shipment that crosses a
//! border, and the options of its label (format and size, insurance, signature). Both are
//! given with the shipment, validated here, and sent to the carrier by the adapters.

use serde::{Deserialize, Serialize};

use super::model::{optional_text, required_text};
use crate::contact::check_text;
use crate::error::{DomainError, DomainResult};
use crate::ids::Sku;
use crate::money::Money;

/// The most customs items one shipment declares.
pub const MAX_CUSTOMS_ITEMS: usize = 100;

/// What the parcel holds, as customs forms ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContentsType {
    Merchandise,
    Gift,
    Documents,
    ReturnedGoods,
    Sample,
    Other,
}

impl ContentsType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentsType::Merchandise => "MERCHANDISE",
            ContentsType::Gift => "GIFT",
            ContentsType::Documents => "DOCUMENTS",
            ContentsType::ReturnedGoods => "RETURNED_GOODS",
            ContentsType::Sample => "SAMPLE",
            ContentsType::Other => "OTHER",
        }
    }
}

/// What the carrier does with a parcel it cannot deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NonDelivery {
    Return,
    Abandon,
}

/// One declared item: a line of the shipment, as customs see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomsItem {
    /// The shipment line it declares.
    pub sku: Sku,
    pub description: String,
    /// The Harmonized System code: 6 to 10 digits (dots allowed between them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_tariff_number: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub origin_country: String,
    pub quantity: u32,
    /// The value of all `quantity` units together.
    pub value: Money,
    /// The weight of all `quantity` units together.
    pub weight_grams: u32,
}

/// A shipment's customs declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customs {
    pub contents_type: ContentsType,
    /// Said when `contents_type` is OTHER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents_explanation: Option<String>,
    pub non_delivery: NonDelivery,
    /// The US export exemption (`NOEEI 30.37(a)`) or the AES ITN (`AES X…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eel_pfc: Option<String>,
    /// Who certifies the declaration.
    pub signer: String,
    pub items: Vec<CustomsItem>,
}

impl Customs {
    /// A declaration, checked: at least one item, each with a description, a valid HS code
    /// when given, a two-letter origin, a positive quantity, value and weight, all values in one
    /// currency; an explanation when the contents are OTHER.
    pub fn new(
        contents_type: ContentsType,
        contents_explanation: Option<&str>,
        non_delivery: NonDelivery,
        eel_pfc: Option<&str>,
        signer: &str,
        items: Vec<CustomsItem>,
    ) -> DomainResult<Self> {
        let contents_explanation =
            optional_text("customs.contentsExplanation", contents_explanation)?;
        if contents_type == ContentsType::Other && contents_explanation.is_none() {
            return Err(DomainError::invalid(
                "customs.contentsExplanation",
                "say what the contents are when they are OTHER",
            ));
        }
        let eel_pfc = optional_text("customs.eelPfc", eel_pfc)?;
        if eel_pfc.as_ref().is_some_and(|e| e.len() > 35) {
            return Err(DomainError::invalid(
                "customs.eelPfc",
                "at most 35 characters (NOEEI 30.37(a), or AES and the ITN)",
            ));
        }
        let signer = required_text("customs.signer", signer)?;
        if items.is_empty() || items.len() > MAX_CUSTOMS_ITEMS {
            return Err(DomainError::invalid(
                "customs.items",
                format!("between 1 and {MAX_CUSTOMS_ITEMS} items"),
            ));
        }
        let items = items
            .into_iter()
            .map(CustomsItem::checked)
            .collect::<DomainResult<Vec<_>>>()?;
        if items
            .windows(2)
            .any(|w| w[0].value.currency() != w[1].value.currency())
        {
            return Err(DomainError::invalid(
                "customs.items.value",
                "every item's value in one currency",
            ));
        }
        Ok(Self {
            contents_type,
            contents_explanation,
            non_delivery,
            eel_pfc,
            signer,
            items,
        })
    }

    /// The declared value of all items.
    pub fn total_value(&self) -> DomainResult<Option<Money>> {
        let mut items = self.items.iter();
        let Some(first) = items.next() else {
            return Ok(None);
        };
        items
            .try_fold(first.value, |sum, i| sum.checked_add(&i.value))
            .map(Some)
    }
}

impl CustomsItem {
    fn checked(mut self) -> DomainResult<Self> {
        self.description = required_text("customs.items.description", &self.description)?;
        check_text("customs.items.description", &self.description, 200, false)?;
        if let Some(hs) = &self.hs_tariff_number {
            let digits: String = hs.chars().filter(|c| *c != '.').collect();
            if !(6..=10).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DomainError::invalid(
                    "customs.items.hsTariffNumber",
                    format!("{hs:?} is not an HS code (6 to 10 digits)"),
                ));
            }
            self.hs_tariff_number = Some(digits);
        }
        self.origin_country = self.origin_country.trim().to_ascii_uppercase();
        if self.origin_country.len() != 2
            || !self.origin_country.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(DomainError::invalid(
                "customs.items.originCountry",
                "an ISO 3166-1 alpha-2 country code",
            ));
        }
        if self.quantity == 0 || self.weight_grams == 0 || self.value.minor() <= 0 {
            return Err(DomainError::invalid(
                "customs.items",
                "each item has a positive quantity, value and weight",
            ));
        }
        Ok(self)
    }
}

/// A label document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabelFormat {
    Pdf,
    Png,
    /// Zebra (thermal printers).
    Zpl,
    Epl2,
}

impl LabelFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "PDF",
            LabelFormat::Png => "PNG",
            LabelFormat::Zpl => "ZPL",
            LabelFormat::Epl2 => "EPL2",
        }
    }
}

/// A signature the carrier collects at delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Signature {
    /// Anyone at the address signs.
    Standard,
    /// An adult (21+) signs.
    Adult,
}

impl Signature {
    pub fn as_str(self) -> &'static str {
        match self {
            Signature::Standard => "STANDARD",
            Signature::Adult => "ADULT",
        }
    }
}

/// The options of a shipment's labels; none given: the carrier's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<LabelFormat>,
    /// `4x6`, `4x8`, `8.5x11`, … (inches, width × height).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// The declared value to insure each package for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl LabelOptions {
    /// Options, checked: a size `W`x`H` in inches, a positive insurance amount.
    pub fn new(
        format: Option<LabelFormat>,
        size: Option<&str>,
        insurance: Option<Money>,
        signature: Option<Signature>,
    ) -> DomainResult<Self> {
        let size = size.map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = size {
            let ok = s.split_once('x').is_some_and(|(w, h)| {
                [w, h]
                    .iter()
                    .all(|n| n.parse::<f64>().is_ok_and(|v| v > 0.0 && v <= 20.0))
            });
            if !ok {
                return Err(DomainError::invalid(
                    "labelOptions.size",
                    format!("{s:?} is not a label size like 4x6 (inches)"),
                ));
            }
        }
        if insurance.is_some_and(|m| m.minor() <= 0) {
            return Err(DomainError::invalid(
                "labelOptions.insurance",
                "insure for a positive amount",
            ));
        }
        Ok(Self {
            format,
            size: size.map(str::to_owned),
            insurance,
            signature,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
