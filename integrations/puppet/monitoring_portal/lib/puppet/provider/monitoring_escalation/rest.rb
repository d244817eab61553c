# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/relation_provider'

Puppet::Type.type(:monitoring_escalation).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/hostescalations/, serviceescalations/)."

  include PuppetX::MonitoringPortal::RelationProvider

  portal_properties(
    last_notification: ['last_notification', :int],
    notification_interval: ['notification_interval', :int],
    escalation_period: ['escalation_period', :ref],
    escalation_options: ['escalation_options', :string],
    contacts: ['contacts', :set],
    contact_groups: ['contact_groups', :set],
  )

  private

  def service?
    !resource[:service].to_s.empty?
  end

  def collection
    service? ? 'registry/serviceescalations/' : 'registry/hostescalations/'
  end

  def keys
    dependent = service? ? { 'service' => "#{resource[:host]}/#{resource[:service]}" } : { 'host' => resource[:host] }
    dependent.merge('first_notification' => resource[:first_notification])
  end

  def filters
    service? ? { 'host' => resource[:host], 'service' => resource[:service] } : { 'host' => resource[:host] }
  end
end
