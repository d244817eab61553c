# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/relation_provider'

Puppet::Type.type(:monitoring_dependency).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/hostdependencies/, servicedependencies/)."

  include PuppetX::MonitoringPortal::RelationProvider

  portal_properties(
    inherits_parent: ['inherits_parent', :bool],
    execution_failure_criteria: ['execution_failure_criteria', :string],
    notification_failure_criteria: ['notification_failure_criteria', :string],
    dependency_period: ['dependency_period', :ref],
  )

  private

  def service?
    !resource[:service].to_s.empty?
  end

  def master_host
    resource[:master_host].to_s.empty? ? resource[:host] : resource[:master_host]
  end

  def collection
    service? ? 'registry/servicedependencies/' : 'registry/hostdependencies/'
  end

  # The API's natural keys: services as host/description.
  def keys
    return { 'host' => resource[:host], 'master_host' => master_host } unless service?
    { 'service' => "#{resource[:host]}/#{resource[:service]}",
      'master_service' => "#{master_host}/#{resource[:master_service]}" }
  end

  def filters
    filters = { 'host' => resource[:host], 'master_host' => master_host }
    filters.merge!('service' => resource[:service], 'master_service' => resource[:master_service]) if service?
    filters
  end
end
